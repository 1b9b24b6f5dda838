{%- set root = grains['root'] %}
remove-tree:
  file.absent:
    - name: {{ root }}/a/b
remove-link:
  file.absent:
    - name: {{ root }}/link-to-seed
