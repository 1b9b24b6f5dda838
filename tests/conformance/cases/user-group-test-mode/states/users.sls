pending_groups:
  user.present:
    - name: brine-ghost-user
    - groups:
      - brine-ghost-user
      - root
      - brine-ghost-extra

no_groups:
  user.present:
    - name: brine-ghost-user2

comma_in_fullname:
  user.present:
    - name: brine-ghost-user3
    - fullname: Ghost, Jr
