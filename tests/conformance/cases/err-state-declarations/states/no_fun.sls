nofun:
  test:
    - a: 1
