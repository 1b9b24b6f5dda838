bad:
  test.nop:
    - require:
      - test: [a, b]
