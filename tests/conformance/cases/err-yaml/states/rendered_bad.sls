{%- set val = 'a: b' %}
x:
  test.nop:
    - v: {{ val }}: more
