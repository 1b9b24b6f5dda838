{%- set root = grains['root'] %}
missing-source:
  file.recurse:
    - name: {{ root }}/missing
    - source:
      - salt://tpl/nosuch
      - salt://tpl/other

local-source:
  file.recurse:
    - name: {{ root }}/local
    - source: /etc/skel

with-mode:
  file.recurse:
    - name: {{ root }}/mode
    - source: salt://tpl/files
    - mode: 644

relative:
  file.recurse:
    - name: relative/path
    - source: salt://tpl/files

file-in-the-way:
  file.managed:
    - name: {{ root }}/blocker
    - contents: x

onto-a-file:
  file.recurse:
    - name: {{ root }}/blocker
    - source: salt://tpl/files
    - require:
      - file: file-in-the-way

unknown-owner:
  file.recurse:
    - name: {{ root }}/owner
    - source: salt://tpl/files
    - include_pat: main.conf
    - user: nosuchuser
    - group: nosuchgroup
