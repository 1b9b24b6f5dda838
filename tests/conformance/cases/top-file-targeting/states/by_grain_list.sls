by_grain_list-state:
  test.nop
