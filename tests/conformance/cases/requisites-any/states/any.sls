ok:
  test.succeed_without_changes
chg:
  test.succeed_with_changes
bad:
  test.fail_without_changes
bad2:
  test.fail_with_changes

require-any-one-ok:
  test.nop:
    - require_any:
      - test: bad
      - test: ok

require-any-all-bad:
  test.nop:
    - require_any:
      - test: bad
      - test: bad2

onchanges-any-hit:
  test.succeed_without_changes:
    - onchanges_any:
      - test: ok
      - test: chg

onchanges-any-miss:
  test.succeed_without_changes:
    - onchanges_any:
      - test: ok

onfail-any-hit:
  test.succeed_without_changes:
    - onfail_any:
      - test: ok
      - test: bad

onfail-all:
  test.succeed_without_changes:
    - onfail_all:
      - test: ok
      - test: bad

watch-any:
  test.succeed_without_changes:
    - watch_any:
      - test: bad
      - test: chg
