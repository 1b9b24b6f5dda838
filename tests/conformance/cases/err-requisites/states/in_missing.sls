pusher:
  test.nop:
    - require_in:
      - test: not-there
