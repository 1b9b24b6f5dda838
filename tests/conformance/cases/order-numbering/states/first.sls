include:
  - third
first-a:
  test.nop
first-explicit-1:
  test.nop:
    - order: 1
first-last:
  test.nop:
    - order: last
first-first:
  test.nop:
    - order: first
first-b:
  test.nop
