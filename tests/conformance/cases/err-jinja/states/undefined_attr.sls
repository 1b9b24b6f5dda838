{%- set d = {'a': 1} %}
x:
  test.nop:
    - v: {{ d.missing.deeper }}
