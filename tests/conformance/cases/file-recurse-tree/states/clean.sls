{%- set root = grains['root'] %}
stray-file:
  file.managed:
    - name: {{ root }}/plain/stray.txt
    - contents: stray
stray-dir:
  file.directory:
    - name: {{ root }}/plain/olddir/inner
    - makedirs: True
