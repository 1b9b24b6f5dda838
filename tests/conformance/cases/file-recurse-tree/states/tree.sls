{%- set root = grains['root'] %}
plain:
  file.recurse:
    - name: {{ root }}/plain
    - source: salt://tpl/files
    - exclude_pat: _*

templated:
  file.recurse:
    - name: {{ root }}/templated/
    - source:
      - salt://tpl/nosuch
      - salt://tpl/files/
      - salt://tpl/maps
    - template: jinja
    - include_pat: '*.conf'
    - file_mode: '0640'

shallow:
  file.recurse:
    - name: {{ root }}/shallow
    - source: salt://tpl/files
    - maxdepth: 0
    - include_empty: True

all-excluded:
  file.recurse:
    - name: {{ root }}/maps
    - source: salt://tpl/maps
    - exclude_pat: _*

regex:
  file.recurse:
    - name: {{ root }}/regex
    - source: salt://tpl/files
    - include_pat: E@^conf\.d/
