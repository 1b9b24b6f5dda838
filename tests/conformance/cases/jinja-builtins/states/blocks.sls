{#- comment #}
{%- set counter = 0 %}
{%- for i in [1, 2] %}{% set counter = counter + i %}{% endfor %}
{%- set captured %}line {{ 1 }}
line {{ 2 }}{% endset %}
{%- if grains.get('missing') is not defined %}{% set branch = 'undefined' %}{% elif false %}{% set branch = 'elif' %}{% else %}{% set branch = 'else' %}{% endif %}
blocks:
  test.nop:
    - scoped_counter: {{ counter }}
    - captured: {{ captured|json }}
    - branch: {{ branch }}
    - ternary: {{ 'yes' if 1 > 0 else 'no' }}
    - loop_else: {% for x in [] %}{{ x }}{% else %}empty{% endfor %}
    - with: {% with a = 5 %}{{ a * 2 }}{% endwith %}
    - filter_block: {% filter upper %}shout{% endfilter %}
    - nested_loops: {% for a in [1, 2] %}{% for b in ['x'] %}{{ loop.depth }}{{ a }}{{ b }}{{ loop.parent if false }}{% endfor %}{% endfor %}
    - math: {{ [7 // 2, 7 % 3, 2 ** 10, 7 / 2, -7 // 2]|json }}
    - compare_chain: {{ 1 < 2 < 3 }}
    - string_cmp: {{ 'abc' < 'abd' }}
    - none_test: {{ none is none and not false }}
