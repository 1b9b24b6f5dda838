include:
  - common.users
  - .network
app:
  name: base-app
  ports: [80]
  settings:
    debug: false
    workers: 2
