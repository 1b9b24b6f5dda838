include:
  - lib.users
  - lib.defaults:
      defaults:
        env_name: prod
      key: settings
common:
  list: [1, 2]
  nested:
    a: 1
    b: 1
secret: hunter2
