other-thing:
  test.nop: []
