never-state:
  test.nop
