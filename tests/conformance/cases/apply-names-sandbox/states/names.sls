{%- set root = grains['root'] %}
dirs:
  file.directory:
    - names:
      - {{ root }}/d1
      - {{ root }}/d2:
        - mode: 700
    - makedirs: True

files:
  file.managed:
    - names:
      - {{ root }}/d1/one.txt:
        - contents: one
      - {{ root }}/d2/two.txt:
        - contents: two
    - require:
      - file: dirs

per-name-cmd:
  cmd.run:
    - names:
      - echo first >> {{ root }}/names.log
      - echo second >> {{ root }}/names.log:
        - onlyif: test -d {{ root }}/d2
    - require:
      - file: {{ root }}/d1/one.txt
