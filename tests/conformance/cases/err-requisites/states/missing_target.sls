needs-ghost:
  test.nop:
    - require:
      - test: ghost
      - sls: nosuch
    - watch:
      - id: phantom
