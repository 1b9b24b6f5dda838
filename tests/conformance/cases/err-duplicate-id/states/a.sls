shared-id:
  test.nop:
    - from: a
