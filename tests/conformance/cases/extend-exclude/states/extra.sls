extra-state:
  test.nop
