{%- set repo = grains['root'] ~ '/repo' %}
multi_needs_all:
  git.config_unset:
    - name: remote.origin.pushurl
    - repo: {{ repo }}

one_of_multi:
  git.config_unset:
    - name: remote.origin.pushurl
    - value_regex: '^a@'
    - repo: {{ repo }}

colors_by_regex:
  git.config_unset:
    - name: 'color\..+'
    - repo: {{ repo }}
    - all: True

nothing_set:
  git.config_unset:
    - name: no.such.key
    - repo: {{ repo }}

global_without_repo:
  git.config_unset:
    - name: user.email
