# Test mode only: the groups exist on every Debian host and nothing changes.
members_in_given_order:
  group.present:
    - name: adm
    - members:
      - www-data
      - daemon

add_and_gid:
  group.present:
    - name: sys
    - gid: 3
    - addusers:
      - daemon
      - root

delusers_absent:
  group.present:
    - name: root
    - delusers:
      - daemon

conflict:
  group.present:
    - name: root
    - members: [daemon]
    - addusers: [root]

same_add_and_delete:
  group.present:
    - name: root
    - addusers: [daemon]
    - delusers: [daemon]

bad_gid:
  group.present:
    - name: root
    - gid: notanumber

new_group:
  group.present:
    - name: brine-ghost-group
    - members: [daemon]
