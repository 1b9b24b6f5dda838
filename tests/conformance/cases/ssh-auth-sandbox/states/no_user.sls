key_for_ghost:
  ssh_auth.present:
    - name: PUBLICKEY
    - user: brine-ghost-user

ghost_key_absent:
  ssh_auth.absent:
    - name: PUBLICKEY_TO_BE_REMOVED
    - user: brine-ghost-user

ghost_source:
  ssh_auth.present:
    - user: brine-ghost-user
    - source: salt://keys/team.pub

ghost_known_host:
  ssh_known_hosts.absent:
    - name: notimportanthost
    - user: brine-ghost-user

ghost_both:
  ssh_known_hosts.present:
    - name: importanthost
    - user: brine-ghost-user
    - key: AAAAC3NzaC1lZDI1NTE5AAAAIC9cY76GNIpl+ySe8lnFk0QjeAkzPpxFPgPEA9Q0WrX1
    - fingerprint: 'aa:bb'
    - enc: ssh-ed25519
