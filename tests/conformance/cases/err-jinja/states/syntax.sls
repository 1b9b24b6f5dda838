x:
  test.nop:
    - v: {{ 1 + }}
