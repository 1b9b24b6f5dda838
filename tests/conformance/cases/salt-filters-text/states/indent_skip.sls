indent_skip:
  test.nop:
    - indent: {{ 'a\nb\nc'|indent(2)|json }}
    - indent_first: {{ 'a\nb'|indent(4, True)|json }}
    - skip: "x{{ 'gone'|skip }}y"
