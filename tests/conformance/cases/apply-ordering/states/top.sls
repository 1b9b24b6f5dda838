base:
  '*':
    - steps
    - later
