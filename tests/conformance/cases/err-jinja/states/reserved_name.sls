{% set none = 1 %}
x:
  test.nop
