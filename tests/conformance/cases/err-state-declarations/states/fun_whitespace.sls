ws:
  test:
    - nop now
