pkg-sub:
  test.nop
