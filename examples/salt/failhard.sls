# failhard: the run stops at the first failure.
stop_here:
  test.fail_without_changes:
    - failhard: True

never_runs:
  test.succeed_with_changes
