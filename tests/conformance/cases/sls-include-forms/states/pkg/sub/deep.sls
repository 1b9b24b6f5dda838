include:
  - ..sibling
pkg-sub-deep:
  test.nop
