x:
  test.nop:
    - v: {{ no_such_variable }}
