{%- set kh = grains['root'] ~ '/known_hosts' %}
drop_beta:
  ssh_known_hosts.absent:
    - name: beta.example
    - user: root
    - config: {{ kh }}

never_there:
  ssh_known_hosts.absent:
    - name: gamma.example
    - config: {{ kh }}
