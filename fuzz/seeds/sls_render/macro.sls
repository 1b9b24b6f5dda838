{%- macro pkg(name) -%}
{{ name }}-pkg:
  pkg.installed:
    - names: {{ caller().split() | tojson }}
{%- endmacro %}
{% call pkg('web') %}vim curl{% endcall %}
extend:
  other:
    test.nop:
      - order: 1
