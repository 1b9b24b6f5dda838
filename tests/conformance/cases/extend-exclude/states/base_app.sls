app-config:
  test.nop:
    - setting: original
    - other: keep
app-service:
  test.nop:
    - require:
      - test: app-config
unwanted:
  test.nop
