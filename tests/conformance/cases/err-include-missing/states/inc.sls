include:
  - does.not.exist
present:
  test.nop
