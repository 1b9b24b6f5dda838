{%- set root = grains['root'] %}
bad-type:
  file.directory:
    - name: {{ root }}/tree
    - recurse:
      - mode
      - colour
both-ignores:
  file.directory:
    - name: {{ root }}/tree
    - recurse:
      - ignore_files
      - ignore_dirs
not-a-list:
  file.directory:
    - name: {{ root }}/tree
    - recurse: mode
