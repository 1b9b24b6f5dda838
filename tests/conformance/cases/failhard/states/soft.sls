soft-fail:
  test.fail_without_changes
still-runs:
  test.succeed_with_changes
