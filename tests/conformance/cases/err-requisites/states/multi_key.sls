base-state:
  test.nop
multi:
  test.nop:
    - require:
      - test: base-state
        file: other
