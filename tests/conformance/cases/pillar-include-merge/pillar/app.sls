include:
  - nested:
      defaults:
        region: eu
      key: deployment
app:
  ports: [443]
  settings:
    workers: 4
