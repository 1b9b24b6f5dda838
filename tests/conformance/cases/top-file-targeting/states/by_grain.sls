by_grain-state:
  test.nop
