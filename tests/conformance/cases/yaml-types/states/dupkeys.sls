dupkeys:
  test.nop:
    - d: {a: 1, a: 2}
