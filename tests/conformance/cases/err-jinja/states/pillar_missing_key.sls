x:
  test.nop:
    - v: {{ pillar['nokey'] }}
