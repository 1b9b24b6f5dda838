base:
  '*':
    - common
    - app
    - override
