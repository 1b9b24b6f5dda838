{%- set auth = grains['root'] ~ '/authorized_keys' %}
new_comment:
  ssh_auth.present:
    - name: AAAAC3NzaC1lZDI1NTE5AAAAIC9cY76GNIpl+ySe8lnFk0QjeAkzPpxFPgPEA9Q0WrX1
    - comment: renamed@example
    - enc: ed25519
    - options:
      - no-agent-forwarding
    - user: root
    - config: {{ auth }}
