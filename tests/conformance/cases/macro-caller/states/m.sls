{%- from "macros.jinja" import managed, wrap, varargs %}
{%- call managed('first', '/etc/first') %}
    - extra: from-caller
    - n: {{ 1 + 1 }}
{%- endcall %}

{% call(item, idx) wrap(['a', 'b']) -%}
item-{{ item }}:
  test.nop:
    - index: {{ idx }}
{%- endcall %}

varargs:
  test.nop:
    - v: "{{ varargs('x', 'y', 'z', k1=1, k2='two') }}"
