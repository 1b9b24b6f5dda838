include:
  - pkg
other:
  test.nop
