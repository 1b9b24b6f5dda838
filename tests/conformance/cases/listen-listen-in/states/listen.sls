changes-a:
  test.succeed_with_changes

no-changes:
  test.succeed_without_changes

listener:
  test.succeed_without_changes:
    - listen:
      - test: changes-a

quiet-listener:
  test.succeed_without_changes:
    - listen:
      - test: no-changes

listened-via-in:
  test.succeed_without_changes

changes-b:
  test.succeed_with_changes:
    - listen_in:
      - test: listened-via-in

last:
  test.nop
