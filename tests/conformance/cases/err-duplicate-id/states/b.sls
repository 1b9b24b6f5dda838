shared-id:
  test.nop:
    - from: b
