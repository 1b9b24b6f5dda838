common:
  nested:
    b: 2
    c: 3
  list: [3]
users:
  bob: {uid: 1002}
