by_pillar-state:
  test.nop
