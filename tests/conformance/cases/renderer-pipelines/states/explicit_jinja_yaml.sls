#!jinja|yaml
explicit:
  test.nop:
    - v: {{ 'x' * 2 }}
