by_glob-state:
  test.nop
