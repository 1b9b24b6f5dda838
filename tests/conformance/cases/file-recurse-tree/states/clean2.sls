{%- set root = grains['root'] %}
cleaned:
  file.recurse:
    - name: {{ root }}/plain
    - source: salt://tpl/files
    - exclude_pat: _*
    - clean: True
