{#- States whose returns carry warnings: how the highstate outputter prints
    them (full and terse), and where the key sits in the return. #}
one-warning:
  test.configurable_test_state:
    - changes: True
    - result: True
    - comment: a comment
    - warnings: Something to know

two-warnings:
  test.configurable_test_state:
    - changes: False
    - result: True
    - warnings:
      - the first warning
      - the second warning

failed-with-warning:
  test.configurable_test_state:
    - changes: False
    - result: False
    - comment: it failed
    - warnings: and it warned
