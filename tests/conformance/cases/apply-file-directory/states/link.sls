{%- set root = grains['root'] %}
link:
  file.symlink:
    - name: {{ root }}/link-to-seed
    - target: {{ root }}/a/seed.txt
