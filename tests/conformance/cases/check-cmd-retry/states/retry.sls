{%- set root = grains['root'] %}
exit-three-ok:
  cmd.run:
    - name: exit 3
    - success_retcodes: [3]

exit-three-bad:
  cmd.run:
    - name: exit 3

file-check-ok:
  file.managed:
    - name: {{ root }}/checked
    - contents: ok
    - check_cmd: grep -q ok

file-check-fails:
  file.managed:
    - name: {{ root }}/checked2
    - contents: ok
    - check_cmd: grep -q missing

generic-check-ok:
  cmd.run:
    - name: echo generic
    - check_cmd:
      - 'true'
      - test -e {{ root }}/checked

generic-check-fails:
  cmd.run:
    - name: echo generic2
    - check_cmd:
      - 'true'
      - 'false'

retry-fails:
  test.fail_without_changes:
    - retry:
        attempts: 3
        interval: 0

retry-until-ok:
  test.succeed_without_changes:
    - retry:
        attempts: 2
        until: True
        interval: 0

retry-true:
  test.succeed_with_changes:
    - retry: True

stateful:
  cmd.run:
    - name: 'echo; echo "changed=no comment=\"nothing to do\""'
    - stateful: True
