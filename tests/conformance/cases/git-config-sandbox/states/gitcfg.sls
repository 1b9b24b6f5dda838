{%- set repo = grains['root'] ~ '/repo' %}
repo_name:
  git.config_set:
    - name: user.name
    - value: Sandbox User
    - repo: {{ repo }}

repo_multi:
  git.config_set:
    - name: remote.origin.pushurl
    - multivar:
      - a@example:x.git
      - b@example:y.git
    - repo: {{ repo }}

color_ui:
  git.config_set:
    - name: color.ui
    - value: auto
    - repo: {{ repo }}

color_diff:
  git.config_set:
    - name: color.diff
    - value: True
    - repo: {{ repo }}

global_email:
  git.config_set:
    - name: user.email
    - value: me@example.com
    - global: True

both_values:
  git.config_set:
    - name: x.y
    - value: a
    - multivar: [b]
    - global: True

no_repo:
  git.config_set:
    - name: x.y
    - value: a
