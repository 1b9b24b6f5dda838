{%- set y = "{a: 1, b: [x, y], c: yes, d: '010', e: 010, f: 1.5e3, g: ~}"|load_yaml %}
{%- set j = '{"k": [1, 2.5, true, null, "s"]}'|load_json %}
{%- load_yaml as block %}
name: from-tag
items:
  - one
  - two
{%- endload %}
{%- load_json as jblock %}
{"tag": "json", "n": 3}
{%- endload %}
{%- set data = {'b': [1, 2], 'a': {'z': True, 'y': None}, 'c': 'str: with colon'} %}
load:
  test.nop:
    - y: {{ y|json }}
    - j: {{ j|json }}
    - block: {{ block|json }}
    - jblock: {{ jblock|json }}
    - yaml_flow: {{ data|yaml|json }}
    - yaml_block: {{ data|yaml(False)|json }}
    - json_text: {{ data|json|json }}
    - python_text: {{ data|python|json }}
    - to_bool: {{ ['yes', 'no', 'True', '1', '0', 1, 0, -1, none, [], [0], {}, 'on', 2.5]|map('to_bool')|list|json }}
    - yaml_inline: {{ data|yaml }}
    - yaml_string: {{ 'a: b'|yaml }}
    - yaml_number_str: {{ '123'|yaml }}
