base:
  '*':
    - stack
