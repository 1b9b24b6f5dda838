setops:
  test.nop:
    - union: {{ [1, 2, 3]|union([2, 4, 6])|json }}
    - intersect: {{ [1, 2, 3, 4]|intersect([2, 4, 6])|json }}
    - difference: {{ [1, 2, 3, 4]|difference([2, 4, 6])|json }}
    - symmetric_difference: {{ [1, 2, 3, 4]|symmetric_difference([2, 4, 6])|json }}
    - unique: {{ ['a', 'b', 'a', 'c', 'b']|unique|json }}
    - union_str: {{ ['b', 'a']|union(['c', 'a'])|json }}
