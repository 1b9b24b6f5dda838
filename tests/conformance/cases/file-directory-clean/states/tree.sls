{%- set root = grains['root'] %}
{#- Each directory holds at most one file and one subdirectory, so the walk
    order (a directory's files, then its subdirectories) does not depend on
    the order the filesystem lists entries in. #}
tree:
  file.directory:
    - name: {{ root }}/conf/old/deeper
    - makedirs: True
    - mode: '0755'
old-file:
  file.managed:
    - name: {{ root }}/conf/old/old.conf
    - contents: old
    - require:
      - file: tree
deep-file:
  file.managed:
    - name: {{ root }}/conf/old/deeper/deep.conf
    - contents: deep
    - require:
      - file: tree
