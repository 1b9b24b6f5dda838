{%- set root = grains['root'] %}
config:
  file.managed:
    - name: {{ root }}/app.conf
    - contents: |
        port = 8080

reload-on-change:
  cmd.run:
    - name: echo reloaded >> {{ root }}/events.log
    - onchanges:
      - file: config

announce:
  cmd.run:
    - name: echo announced >> {{ root }}/events.log
    - onchanges_in:
      - cmd: reload-on-change

will-fail:
  cmd.run:
    - name: exit 3

rescue:
  cmd.run:
    - name: echo rescued >> {{ root }}/events.log
    - onfail:
      - cmd: will-fail

not-needed:
  cmd.run:
    - name: echo never >> {{ root }}/events.log
    - onfail:
      - file: config

restart:
  cmd.wait:
    - name: echo restarted >> {{ root }}/events.log
    - watch:
      - file: config

needs-config:
  test.succeed_without_changes:
    - require_in:
      - file: config

after-failure:
  test.succeed_without_changes:
    - require:
      - cmd: will-fail
