{%- set d = {'a': {'b': {'c': 1}}, 'l': [{'x': 1}]} %}
dictkeys:
  test.nop:
    - traverse: {{ [d|traverse('a:b:c'), d|traverse('a:z', 'dflt'), d|traverse('l:0:x')]|json }}
    - set_key: {{ {'a': {}}|set_dict_key_value('a:b:c', 2)|json }}
    - update_key: {{ {'a': {'b': {'c': 1}}}|update_dict_key_value('a:b', {'d': 2})|json }}
    - append_key: {{ {'a': {'l': [1]}}|append_dict_key_value('a:l', 2)|json }}
    - extend_key: {{ {'a': {'l': [1]}}|extend_dict_key_value('a:l', [2, 3])|json }}
