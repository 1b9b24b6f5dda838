{#- Every kind of line the highstate outputter prints, changed on every run:
    the file is reset before file.managed compares it, so each apply shows a diff. #}
{%- set root = grains['root'] %}
reset-file:
  cmd.run:
    - name: printf 'old line\nkept\n' > {{ root }}/managed.txt

managed-file:
  file.managed:
    - name: {{ root }}/managed.txt
    - contents: |
        new line
        kept
    - require:
      - cmd: reset-file

nothing-to-do:
  test.succeed_without_changes:
    - name: already fine

nested-changes:
  test.configurable_test_state:
    - changes: True
    - result: True
    - comment: |-
        first line of a comment
        second line

always-fails:
  test.fail_without_changes:
    - name: this one fails

needs-the-failure:
  test.succeed_with_changes:
    - require:
      - test: always-fails

unchanged-but-listed:
  test.nop:
    - name: a quiet state
