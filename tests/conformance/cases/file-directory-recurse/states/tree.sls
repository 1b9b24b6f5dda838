{%- set root = grains['root'] %}
{#- Each directory holds one file and one subdirectory, so the walk order
    (a directory's files, then its subdirectories) does not depend on the
    order the filesystem lists entries in. #}
tree:
  file.directory:
    - name: {{ root }}/tree/sub
    - makedirs: True
    - mode: '0755'
top-file:
  file.managed:
    - name: {{ root }}/tree/f.txt
    - contents: top
    - mode: '0644'
    - require:
      - file: tree
sub-file:
  file.managed:
    - name: {{ root }}/tree/sub/g.txt
    - contents: sub
    - mode: '0644'
    - require:
      - file: tree
