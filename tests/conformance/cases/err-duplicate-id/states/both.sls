include:
  - a
  - b
