string-form:
  test.nop

list-form:
  test:
    - nop
    - arg: 1

dotted-empty-list:
  test.succeed_without_changes: []

name-override:
  test.nop:
    - name: the-real-name

two-modules:
  test.nop:
    - order: 5
  file.exists:
    - name: /tmp

nested-args:
  test.nop:
    - mapping: {a: 1}
    - seq: [1, 2]
    - nul: ~

'quoted id with spaces':
  test.nop

dotted-fun-in-list:
  test:
    - name: x
    - nop
