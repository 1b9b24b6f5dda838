pkg-sibling:
  test.nop
