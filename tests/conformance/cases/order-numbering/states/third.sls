third-a:
  test.nop
third-str-order:
  test.nop:
    - order: '3'
