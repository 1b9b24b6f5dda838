{%- set root = grains['root'] %}
first:
  cmd.run:
    - name: echo one > {{ root }}/one
    - parallel: True
second:
  file.managed:
    - name: {{ root }}/two
    - contents: two
    - parallel: True
after-both:
  test.succeed_without_changes:
    - require:
      - cmd: first
      - file: second
broken:
  test.fail_without_changes:
    - parallel: True
needs-broken:
  test.succeed_without_changes:
    - require:
      - test: broken
