123:
  test.nop
