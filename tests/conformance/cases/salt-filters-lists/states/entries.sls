entries:
  test.nop:
    - to_entries: {{ {'a': 1, 'b': 2}|to_entries|json }}
    - from_entries: {{ [{'key': 'x', 'value': 1}, {'name': 'y', 'value': 2}]|from_entries|json }}
