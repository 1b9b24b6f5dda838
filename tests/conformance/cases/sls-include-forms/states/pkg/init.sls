include:
  - .sub
  - .sub.deep
  - ..shared
  - other
  - pkg.sub

pkg-main:
  test.nop:
    - require:
      - sls: pkg.sub
