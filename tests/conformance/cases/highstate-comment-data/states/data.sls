{#- Comments that are not strings (a list, a dict, a number, a long line):
    how the highstate outputter prints each, and the return as JSON. #}
list-comment:
  test.configurable_test_state:
    - changes: False
    - result: True
    - comment:
      - first item
      - second item

dict-comment:
  test.configurable_test_state:
    - changes: True
    - result: True
    - comment:
        key: value
        nested:
          deeper: 1

number-comment:
  test.configurable_test_state:
    - changes: False
    - result: False
    - comment: 42

long-comment:
  test.configurable_test_state:
    - changes: False
    - result: True
    - comment: "a comment long enough to go past the eighty columns the outputter might wrap at, to see whether it wraps"
