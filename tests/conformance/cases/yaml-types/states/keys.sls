keys:
  test.nop:
    - int_keys: {1: one, 2: two}
    - bool_keys: {yes: y, off: f}
    - null_key: {~: n}
    - float_key: {1.5: f}
    - mixed: {a: 1, 10: 2}
