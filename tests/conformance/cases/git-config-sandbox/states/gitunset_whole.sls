drop_name:
  git.config_unset:
    - name: user.name
    - repo: {{ grains['root'] }}/repo
