names-str:
  test.nop:
    - names: one
