in-other:
  test.succeed_without_changes
