extend:
  no-such-id:
    test:
      - x: 1
