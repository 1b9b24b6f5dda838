ghost_name:
  git.config_set:
    - name: user.name
    - value: Ghost
    - user: brine-ghost-user
    - global: True

ghost_unset:
  git.config_unset:
    - name: push.default
    - user: brine-ghost-user
    - global: True
    - all: True
