second-a:
  test.nop
second-explicit-10:
  test.nop:
    - order: 10
second-b:
  test.nop:
    - name: zz
