{%- set root = grains['root'] %}
yaml-dataset:
  file.serialize:
    - name: {{ root }}/app.yml
    - dataset:
        b: [1, 2, {x: y}]
        a: 'text with: colon'
        c: "yes"
        d: multi
          line

json-pillar:
  file.serialize:
    - name: {{ root }}/app.json
    - dataset_pillar: app:config
    - formatter: json
    - mode: '0600'

yaml-pillar-scalar:
  file.serialize:
    - name: {{ root }}/secret.yml
    - dataset_pillar: app:secret
    - serializer: YAML

missing-pillar:
  file.serialize:
    - name: {{ root }}/missing.yml
    - dataset_pillar: app:nosuch

no-parent:
  file.serialize:
    - name: {{ root }}/nodir/x.json
    - dataset: {a: 1}
    - serializer: json

with-makedirs:
  file.serialize:
    - name: {{ root }}/made/x.json
    - dataset: {a: 1}
    - serializer: json
    - makedirs: True

not-created:
  file.serialize:
    - name: {{ root }}/absent.yml
    - dataset: {a: 1}
    - create: False
