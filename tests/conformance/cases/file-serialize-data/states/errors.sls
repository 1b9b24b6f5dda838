{%- set root = grains['root'] %}
both-formats:
  file.serialize:
    - name: {{ root }}/e1
    - dataset: {a: 1}
    - serializer: json
    - formatter: yaml

both-datasets:
  file.serialize:
    - name: {{ root }}/e2
    - dataset: {a: 1}
    - dataset_pillar: app:config

no-dataset:
  file.serialize:
    - name: {{ root }}/e3

unknown:
  file.serialize:
    - name: {{ root }}/e4
    - dataset: {a: 1}
    - serializer: nosuch
