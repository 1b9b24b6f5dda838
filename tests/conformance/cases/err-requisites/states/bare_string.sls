target:
  test.nop
bare:
  test.nop:
    - require:
      - target
