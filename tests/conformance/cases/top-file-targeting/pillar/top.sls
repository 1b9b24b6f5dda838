base:
  '*':
    - tier
