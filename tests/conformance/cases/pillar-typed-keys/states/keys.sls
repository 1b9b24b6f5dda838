{%- set keys = pillar['keys'] %}
{#- A float('inf') from a variable: Jinja would fold a constant into its code. #}
{%- set inf_text = 'inf' %}
{%- for key, value in keys.items() %}
key-{{ loop.index }}:
  test.nop:
    - shown: '{{ key }}'
    - value: {{ value|json }}
    - is_none: {{ key is none }}
    - is_string: {{ key is string }}
    - same_as_null_string: {{ key == 'null' }}
    - lookup: {{ keys[key]|json }}
{%- endfor %}
{#- Pillar dicts are OrderedDicts in Salt (|yaml keeps their order, |python
    prints OrderedDict(...)); a dict made here is a plain dict. #}
{%- set made = {None: 'n', True: 't', 'x': 'y'} %}
{%- set made_bools = {True: 1, False: 0, inf_text|float: 2} %}
lookups:
  test.nop:
    - none: {{ keys[None] }}
    - true: {{ keys[True] }}
    - inf: {{ keys[inf_text|float] }}
    - string_null: {{ keys['null'] }}
    - get_none: {{ keys.get(None) }}
    - get_false: {{ keys.get(False, 'dflt') }}
    - none_in: {{ None in keys }}
    - bools_json: {{ pillar['bools']|json }}
    - made_bools_yaml: "{{ made_bools|yaml }}"
    - made_bools_python: "{{ made_bools|python }}"
    - nested: {{ keys['nested'][None][True] }}
    - made_keys: "{{ made.keys()|list }}"
    - made: {{ made|tojson }}
    - pillar_get_null: {{ salt['pillar.get']('keys:null', 'no-such') }}
    - low: {{ pillar['floats'][('-' ~ inf_text)|float] }}
vimrc:
  test.nop:
    - lines:
{%- for key, value in pillar['lets'].items() %}
      - 'let {{ key }} = {{ value }}'
{%- endfor %}
