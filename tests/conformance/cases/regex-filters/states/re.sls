{%- set text = "first line\nsecond line\n  third LINE" %}
re:
  test.nop:
    - replace_ml: {{ text|regex_replace('^(\\w+)', 'X-\\1', multiline=True)|json }}
    - replace_plain: {{ text|regex_replace('^(\\w+)', 'X-\\1')|json }}
    - replace_ic: {{ text|regex_replace('line', 'L', ignorecase=True)|json }}
    - search: {{ 'abcd'|regex_search('^(.*)BC(.*)$', ignorecase=True)|json }}
    - search_nogroup: {{ 'abcd'|regex_search('bc')|json }}
    - search_none: {{ 'abcd'|regex_search('zz')|json }}
    - match: {{ 'abcd'|regex_match('b(c)')|json }}
    - match_start: {{ 'abcd'|regex_match('a(b)(c)')|json }}
    - match_ml: {{ text|regex_match('.*(third).*', multiline=True)|json }}
    - escape: {{ 'https://example.com?foo=bar baz'|regex_escape|json }}
    - test_match: {{ ('abc' is match('a.c'), 'xabc' is match('a.c'), 'ABC' is match('a', ignorecase=True))|json }}
    - select_match: {{ ['web1', 'db1', 'web2']|select('match', 'web')|list|json }}
    - equalto: {{ [1, 2, 1]|select('equalto', 1)|list|json }}
