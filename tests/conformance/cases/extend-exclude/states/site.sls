include:
  - base_app
  - extra
extend:
  app-config:
    test:
      - setting: extended
      - added: new
  app-service:
    test:
      - require:
        - test: site-local
      - watch:
        - test: app-config
exclude:
  - id: unwanted
  - sls: extra
site-local:
  test.nop
