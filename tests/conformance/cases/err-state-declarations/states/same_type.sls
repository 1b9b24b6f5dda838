twice:
  test.nop:
    - a: 1
  test.succeed_without_changes:
    - b: 2
