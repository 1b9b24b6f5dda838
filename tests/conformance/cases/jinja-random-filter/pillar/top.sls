base:
  '*':
    - picks
