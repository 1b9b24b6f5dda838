{%- set auth = grains['root'] ~ '/authorized_keys' %}
empty_source:
  ssh_auth.present:
    - user: root
    - source: salt://keys/empty.pub
    - config: {{ auth }}

invalid_key:
  ssh_auth.present:
    - name: PUBLICKEY
    - user: root
    - config: {{ auth }}
