{%- set root = grains['root'] %}
modes:
  file.directory:
    - name: {{ root }}/tree/
    - dir_mode: '0750'
    - file_mode: '0640'
    - recurse:
      - mode
