{%- set root = grains['root'] %}
ascii-yaml:
  file.serialize:
    - name: {{ root }}/uni.yml
    - dataset:
        café: crème brûlée
        list: [日本, plain]

utf8-yaml:
  file.serialize:
    - name: {{ root }}/uni8.yml
    - encoding: utf-8
    - dataset:
        café: crème brûlée

utf-json:
  file.serialize:
    - name: {{ root }}/uni.json
    - serializer: json
    - dataset:
        café: crème brûlée
