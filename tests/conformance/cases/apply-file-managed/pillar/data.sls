motd: |
  Welcome
  to the host
