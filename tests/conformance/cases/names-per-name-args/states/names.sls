{%- set root = grains['root'] %}
simple-names:
  test.nop:
    - names:
      - alpha
      - beta
    - shared: yes

per-name:
  file.managed:
    - makedirs: True
    - contents: default
    - names:
      - {{ root }}/one.txt
      - {{ root }}/two.txt:
        - contents: custom two
        - mode: '0600'
      - {{ root }}/three.txt:
        - contents: custom three

with-reqs:
  test.nop:
    - names:
      - gamma:
        - require:
          - test: alpha
      - delta
