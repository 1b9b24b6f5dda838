{%- set root = grains['root'] %}
seed-json:
  file.managed:
    - name: {{ root }}/merge.json
    - contents: '{"old": true, "nested": {"a": 1, "b": 1}}'
seed-yaml:
  file.managed:
    - name: {{ root }}/merge.yml
    - contents: |
        keep: 1
        other: 2
