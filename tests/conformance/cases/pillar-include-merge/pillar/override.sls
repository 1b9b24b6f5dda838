users:
  bob:
    shell: /bin/zsh
  carol:
    uid: 1003
