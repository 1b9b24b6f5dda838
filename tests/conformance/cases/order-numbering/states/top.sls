base:
  '*':
    - second
    - first
