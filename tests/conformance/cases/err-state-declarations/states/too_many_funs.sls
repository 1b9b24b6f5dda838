many:
  test:
    - nop
    - succeed_without_changes
