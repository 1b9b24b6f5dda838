a:
  test.succeed_with_changes
b:
  cmd.run:
    - name: exit 1
c:
  test.succeed_with_changes
