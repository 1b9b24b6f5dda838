base:
  '*':
    - g
