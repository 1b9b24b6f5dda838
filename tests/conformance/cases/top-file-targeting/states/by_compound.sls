by_compound-state:
  test.nop
