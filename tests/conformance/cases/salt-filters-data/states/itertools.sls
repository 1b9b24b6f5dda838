itertools:
  test.nop:
    - zip: {{ [1, 2]|zip(['a', 'b'])|list|json }}
    - zip_longest: {{ [1, 2, 3]|zip_longest(['a'], fillvalue='-')|list|json }}
    - product: {{ [1, 2]|product(['a', 'b'])|list|json }}
    - combinations: {{ [1, 2, 3]|combinations(2)|list|json }}
    - permutations: {{ [1, 2]|permutations|list|json }}
    - compress: {{ ['a', 'b', 'c']|compress([1, 0, 1])|list|json }}
