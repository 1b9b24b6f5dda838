{%- from tpldir ~ "/mapstack.jinja" import mapdata with context %}
{%- set dest = {'a': {'b': 1, 'l': [1]}, 'x': 'keep'} %}
{%- set ret = salt['defaults.merge'](dest, {'a': {'c': 2, 'l': [2]}}) %}
{%- set copy = salt['defaults.merge']({'a': [1]}, {'a': [2], 'n': none}, merge_lists=True, in_place=False) %}
{%- set upd = salt['defaults.update']({'n1': {'x': 1}, 'n2': {'x': 2, 'l': ['own']}}, {'enabled': True, 'l': ['def']}) %}
{%- set s_over = salt['slsutil.merge']({'a': {'b': 1}}, {'a': {'c': 2}}, strategy='overwrite') %}
{%- set s_rec = salt['slsutil.merge']({'a': {'b': 1}, 'l': [1]}, {'a': {'c': 2}, 'l': [2]}, strategy='recurse', merge_lists=True) %}
{%- set s_agg = salt['slsutil.merge']({'a': 1}, {'b': 2}, strategy='aggregate') %}
{%- set s_all = salt['slsutil.merge_all']([{'a': 1, 'l': [1]}, {'b': 2, 'l': [2]}, {'a': 3}], merge_lists=True) %}
{%- set s_upd = {'k': {'a': 1}} %}
{%- do salt['slsutil.update'](s_upd, {'k': {'b': 2}}) %}
stack-result:
  test.nop:
    - mapdata: {{ mapdata|json }}
    - dest_after_merge: {{ dest|json }}
    - merge_return: {{ ret|json }}
    - copy: {{ copy|json }}
    - update: {{ upd|json }}
    - overwrite: {{ s_over|json }}
    - recurse: {{ s_rec|json }}
    - aggregate: {{ s_agg|json }}
    - merge_all: {{ s_all|json }}
    - slsutil_update: {{ s_upd|json }}
    - cfg_grain: {{ salt['config.get']('os_family')|json }}
    - cfg_pillar: {{ salt['config.get']('stack:lookup:nested:override')|json }}
    - cfg_opts: {{ salt['config.get']('file_client')|json }}
    - cfg_default: {{ salt['config.get']('no:such:key', 'dflt')|json }}
    - cfg_delim: {{ salt['config.get']('stack|lookup|pkg', delimiter='|')|json }}
    - cfg_shadow: {{ salt['config.get']('shadowed')|json }}
    - cfg_merge: {{ salt['config.get']('merged', merge='recurse')|json }}
    - pillar_get: {{ salt['pillar.get']('stack:lookup:list', [])|json }}
    - pillar_get_dflt: {{ salt['pillar.get']('stack:absent', 'none-here')|json }}
    - pillar_get_merge: {{ salt['pillar.get']('stack:lookup', {'extra': 1, 'nested': {'deep': 1}}, merge=True)|json }}
    - grains_get: {{ salt['grains.get']('roles:0', 'x')|json }}
