notlist:
  test.nop:
    a: 1
