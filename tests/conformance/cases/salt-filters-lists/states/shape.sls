shape:
  test.nop:
    - flatten: {{ [1, [2, [3, [4]]], None]|flatten|json }}
    - flatten_levels: {{ [1, [2, [3, [4]]]]|flatten(levels=1)|json }}
    - flatten_nulls: {{ [1, [None, 2]]|flatten(preserve_nulls=True)|json }}
    - sequence_str: {{ 'foo'|sequence|json }}
    - sequence_list: {{ ['bar']|sequence|json }}
    - sequence_first: {{ {'baz': 1}|sequence|first }}
    - min: {{ [4, 2, 8]|min }}
    - max: {{ [4, 2, 8]|max }}
    - avg: {{ [1, 2, 3, 4]|avg }}
    - sorted_ignorecase: {{ ['b', 'A', 'c', 'B']|sorted_ignorecase|json }}
