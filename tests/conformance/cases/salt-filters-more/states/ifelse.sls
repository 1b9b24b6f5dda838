x:
  test.nop:
    - single: {{ ifelse('default') }}
