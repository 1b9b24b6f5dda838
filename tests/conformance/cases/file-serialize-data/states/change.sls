{%- set root = grains['root'] %}
changed-yaml:
  file.serialize:
    - name: {{ root }}/app.yml
    - dataset:
        a: other
        b: [1, 2, {x: y}]

quiet-json:
  file.serialize:
    - name: {{ root }}/app.json
    - dataset: {name: changed}
    - serializer: json
    - show_changes: False

merged-json:
  file.serialize:
    - name: {{ root }}/merge.json
    - dataset:
        new: 1
        nested: {b: 2}
    - serializer: json
    - merge_if_exists: True

merged-yaml-same:
  file.serialize:
    - name: {{ root }}/merge.yml
    - dataset:
        keep: 1
    - merge_if_exists: True
