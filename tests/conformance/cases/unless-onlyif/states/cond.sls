{%- set root = grains['root'] %}
marker:
  file.managed:
    - name: {{ root }}/marker
    - contents: here

unless-true:
  cmd.run:
    - name: echo should-not-run
    - unless: test -e {{ root }}/marker

unless-list-one-false:
  cmd.run:
    - name: echo runs
    - unless:
      - test -e {{ root }}/marker
      - test -e {{ root }}/absent

onlyif-false:
  cmd.run:
    - name: echo should-not-run
    - onlyif: test -e {{ root }}/absent

onlyif-list-all-true:
  cmd.run:
    - name: echo runs-onlyif
    - onlyif:
      - test -e {{ root }}/marker
      - 'true'

onlyif-fun-true:
  test.succeed_with_changes:
    - onlyif:
      - fun: file.file_exists
        path: {{ root }}/marker

onlyif-fun-false:
  test.succeed_with_changes:
    - onlyif:
      - fun: file.file_exists
        path: {{ root }}/absent

unless-fun-args:
  test.succeed_with_changes:
    - unless:
      - fun: file.file_exists
        args:
          - {{ root }}/marker

onlyif-fun-get-return:
  test.succeed_with_changes:
    - onlyif:
      - fun: file.stats
        path: {{ root }}
        get_return: type

onlyif-and-unless:
  test.succeed_with_changes:
    - onlyif: 'true'
    - unless: 'false'

creates-existing:
  cmd.run:
    - name: echo no
    - creates: {{ root }}/marker

creates-list:
  cmd.run:
    - name: touch {{ root }}/created
    - creates:
      - {{ root }}/marker
      - {{ root }}/created

onlyif-no-fun:
  test.succeed_with_changes:
    - onlyif:
      - path: {{ root }}/marker
