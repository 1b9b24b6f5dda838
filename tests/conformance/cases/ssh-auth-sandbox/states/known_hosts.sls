{%- set kh = grains['root'] ~ '/known_hosts' %}
host_by_key:
  ssh_known_hosts.present:
    - name: alpha.example
    - user: root
    - key: AAAAC3NzaC1lZDI1NTE5AAAAIC9cY76GNIpl+ySe8lnFk0QjeAkzPpxFPgPEA9Q0WrX1
    - enc: ssh-ed25519
    - config: {{ kh }}

plain_host_by_key:
  ssh_known_hosts.present:
    - name: beta.example
    - user: root
    - key: AAAAC3NzaC1lZDI1NTE5AAAAICSlVLdHdNNdS7aBmtseuznT6Tk9KjZcX+KVA7dGbhiX
    - enc: ssh-ed25519
    - hash_known_hosts: False
    - config: {{ kh }}
