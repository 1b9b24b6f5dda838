by_list-state:
  test.nop
