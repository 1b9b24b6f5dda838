{%- set d = {'k': 'v'} %}
method_tojson:
  test.nop:
    - method_call: {{ d|method_call('get', 'k')|json }}
    - method_call_default: {{ d|method_call('get', 'x', 'dflt')|json }}
    - method_call_missing: {{ d|method_call('nosuch')|json }}
    - method_str: {{ 'a,b'|method_call('split', ',')|json }}
    - tojson: {{ {'b': [1, '<&>'], 'a': "it's"}|tojson|json }}
    - tojson_indent: {{ {'a': 1}|tojson(indent=2)|json }}
    - tojson_unicode: {{ 'ü'|tojson|json }}
