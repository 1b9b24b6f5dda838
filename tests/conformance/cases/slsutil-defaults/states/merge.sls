{#- Each call gets its own dicts: Salt's merges also change their first argument in place. #}
{%- macro base() %}{'a': 1, 'list': [1, 2], 'nested': {'x': 1, 'keep': true}}{% endmacro %}
{%- set upd = {'b': 2, 'list': [3], 'nested': {'x': 9}} %}
slsutil-merges:
  test.nop:
    - smart: {{ salt['slsutil.merge'](base()|load_yaml, upd)|json }}
    - overwrite: {{ salt['slsutil.merge'](base()|load_yaml, upd, strategy='overwrite')|json }}
    - merge_lists: {{ salt['slsutil.merge'](base()|load_yaml, upd, merge_lists=True)|json }}
    - merge_all: {{ salt['slsutil.merge_all']([base()|load_yaml, upd, {'c': 3}])|json }}
    - update: {{ salt['slsutil.update']({'a': {'b': 1}}, {'a': {'c': 2}})|json }}
    - update_shallow: {{ salt['slsutil.update']({'a': {'b': 1}}, {'a': {'c': 2}}, recursive_update=False)|json }}
    - defaults_merge: {{ salt['defaults.merge']({'k': {'v': 1}}, {'k': {'w': 2}}, in_place=False)|json }}
    - deepcopy: {{ salt['defaults.deepcopy'](base()|load_yaml)|json }}
    - boolstr: {{ [salt['slsutil.boolstr'](false), salt['slsutil.boolstr'](true, 'yes', 'no')]|json }}
    - banner: {{ salt['slsutil.banner'](width=30, title='Managed')|json }}
