{%- set repo = grains['root'] ~ '/repo' %}
repo_name:
  git.config_set:
    - name: user.name
    - value: Renamed User
    - repo: {{ repo }}

repo_multi:
  git.config_set:
    - name: remote.origin.pushurl
    - multivar: a@example:x.git,c@example:z.git
    - repo: {{ repo }}
