me:
  test.nop:
    - require:
      - test: me
