base-state:
  test.nop
dotted:
  test.nop:
    - require:
      - test.nop: base-state
