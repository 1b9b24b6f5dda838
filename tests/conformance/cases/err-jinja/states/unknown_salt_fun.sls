x:
  test.nop:
    - v: {{ salt['nosuch.function']() }}
