x:
  test.nop:
    - a: 1
   - b: 2
