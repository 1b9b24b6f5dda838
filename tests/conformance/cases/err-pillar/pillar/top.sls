base:
  '*':
    - good
    - bad
    - missing
