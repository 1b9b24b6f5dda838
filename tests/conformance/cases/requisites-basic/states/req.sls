include:
  - other

good:
  test.succeed_without_changes

changed:
  test.succeed_with_changes

failing:
  test.fail_without_changes

needs-good:
  test.nop:
    - require:
      - test: good

needs-failing:
  test.nop:
    - require:
      - test: failing

on-change:
  test.succeed_without_changes:
    - onchanges:
      - test: changed

on-no-change:
  test.succeed_without_changes:
    - onchanges:
      - test: good

on-fail:
  test.succeed_without_changes:
    - onfail:
      - test: failing

on-fail-not-triggered:
  test.succeed_without_changes:
    - onfail:
      - test: good

watcher:
  test.succeed_without_changes:
    - watch:
      - test: changed

watcher-quiet:
  test.succeed_without_changes:
    - watch:
      - test: good

by-id-and-sls:
  test.nop:
    - require:
      - id: good
      - sls: other

pushed:
  test.nop:
    - require_in:
      - test: needs-good
    - watch_in:
      - test: watcher
