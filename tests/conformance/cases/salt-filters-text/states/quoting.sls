quoting:
  test.nop:
    - quote: {{ ["it's here"|quote, 'plain'|quote, 'a b'|quote]|json }}
    - yaml_dquote: {{ 'say "hi"\n'|yaml_dquote }}
    - yaml_squote: {{ "it's"|yaml_squote }}
    - yaml_encode_str: {{ 'a: b'|yaml_encode }}
    - yaml_encode_num: {{ 5|yaml_encode }}
    - yaml_encode_bool: {{ true|yaml_encode }}
    - yaml_encode_none: {{ none|yaml_encode }}
