{%- set root = grains['root'] %}
before-change:
  cmd.run:
    - name: echo before >> {{ root }}/log.txt
    - prereq:
      - file: config

config:
  file.managed:
    - name: {{ root }}/app.conf
    - contents: version 1

before-nothing:
  test.succeed_with_changes:
    - prereq:
      - test: stays-same

stays-same:
  test.succeed_without_changes

prereq-in-user:
  test.succeed_with_changes

announce:
  test.succeed_without_changes:
    - prereq_in:
      - test: prereq-in-user
