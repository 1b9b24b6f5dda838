by_pcre-state:
  test.nop
