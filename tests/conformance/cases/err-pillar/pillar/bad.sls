bad:
  v: {{ undefined_thing }}
