checks:
  test.nop:
    - is_list: {{ [[1]|is_list, 'a'|is_list, {'a': 1}|is_list]|json }}
    - is_iter: {{ [[1]|is_iter, 'a'|is_iter, 5|is_iter]|json }}
    - exactly_one_true: {{ [[true, false]|exactly_one_true, [true, true]|exactly_one_true]|json }}
    - exactly_n_true: {{ [true, true, false]|exactly_n_true(2) }}
    - substring_in_list: {{ ['foo', ['a-foo-b', 'bar']]|first|substring_in_list(['a-foo-b', 'bar']) }}
    - compare_lists: {{ [1, 2, 3]|compare_lists([2, 3, 4])|json }}
    - compare_dicts: {{ {'a': 1, 'b': 2}|compare_dicts({'a': 1, 'b': 3, 'c': 4})|json }}
    - list_test: {{ [[1] is list, 'a' is list]|json }}
