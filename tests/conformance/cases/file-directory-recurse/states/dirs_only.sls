{%- set root = grains['root'] %}
dirs-only:
  file.directory:
    - name: {{ root }}/tree
    - mode: '0700'
    - recurse:
      - mode
      - ignore_files
