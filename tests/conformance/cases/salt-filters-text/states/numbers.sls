numbers:
  test.nop:
    - to_num: {{ ['42'|to_num, '4.2'|to_num, 'x42'|to_num, 7|to_num]|json }}
    - human_to_bytes: {{ ['10K'|human_to_bytes, '1M'|human_to_bytes, '2 GB'|human_to_bytes]|json }}
    - to_bytes: {{ 'abc'|to_bytes|string|json }}
    - is_hex: {{ ['0xff'|is_hex, 'zz'|is_hex]|json }}
    - contains_whitespace: {{ ['a b'|contains_whitespace, 'ab'|contains_whitespace]|json }}
    - snake: {{ 'camelCaseString'|to_snake_case }}
    - camel: {{ ['snake_case_string'|to_camelcase, 'snake_case_string'|to_camelcase(uppercamel=True)]|json }}
