{%- set auth = grains['root'] ~ '/authorized_keys' %}
single_key:
  ssh_auth.present:
    - name: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC9cY76GNIpl+ySe8lnFk0QjeAkzPpxFPgPEA9Q0WrX1 user1@example
    - user: root
    - config: {{ auth }}

team_keys:
  ssh_auth.present:
    - user: root
    - source: salt://keys/team.pub
    - config: {{ auth }}

missing_source:
  ssh_auth.present:
    - user: root
    - source: salt://keys/nothere.pub
    - config: {{ auth }}
