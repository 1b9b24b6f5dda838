app:
  lookup:
    service: app-custom
    config:
      port: 8081
