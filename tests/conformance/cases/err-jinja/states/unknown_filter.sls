x:
  test.nop:
    - v: {{ 'a'|no_such_filter }}
