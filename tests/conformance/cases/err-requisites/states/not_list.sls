base-state:
  test.nop
str-req:
  test.nop:
    - require: base-state
