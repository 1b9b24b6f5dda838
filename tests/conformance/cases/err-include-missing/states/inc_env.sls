include:
  - base: also.missing
  - 'prod:thing'
present2:
  test.nop
