{%- set root = grains['root'] %}
template-file:
  file.managed:
    - name: {{ root }}/a.txt
    - contents: shared
    - mode: '0600'
    - makedirs: True

user-file:
  file.managed:
    - name: {{ root }}/b.txt
    - use:
      - file: template-file

user-override:
  file.managed:
    - name: {{ root }}/c.txt
    - mode: '0640'
    - use:
      - file: template-file

base-nop:
  test.nop:
    - extra: from-base
    - require:
      - test: other
other:
  test.nop
uses-nop:
  test.nop:
    - use:
      - test: base-nop
