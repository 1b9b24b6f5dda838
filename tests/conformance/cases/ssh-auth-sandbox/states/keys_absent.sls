{%- set auth = grains['root'] ~ '/authorized_keys' %}
drop_single:
  ssh_auth.absent:
    - name: AAAAC3NzaC1lZDI1NTE5AAAAIC9cY76GNIpl+ySe8lnFk0QjeAkzPpxFPgPEA9Q0WrX1
    - user: root
    - config: {{ auth }}

drop_team:
  ssh_auth.absent:
    - user: root
    - source: salt://keys/team.pub
    - config: {{ auth }}

already_gone:
  ssh_auth.absent:
    - name: AAAAC3NzaC1lZDI1NTE5AAAAIC9cY76GNIpl+ySe8lnFk0QjeAkzPpxFPgPEA9Q0WrX1 someone
    - user: root
    - config: {{ auth }}
