shared:
  test.nop
