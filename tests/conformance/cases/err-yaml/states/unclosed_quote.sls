x:
  test.nop:
    - a: "unclosed
