common-state:
  test.nop
