{%- import 'lib/macros.jinja' as m %}
{%- from 'lib/macros.jinja' import greet, countdown, version %}
macro-results:
  test.nop:
    - greet: {{ greet('bob') }}
    - greet_kw: {{ m.greet(punct='?', name='al') }}
    - varargs: {{ m.listing('t', 1, 2, z=3, a=4)|json }}
    - call_block: {% call(t) m.wrap('i') %}in-{{ t }}{% endcall %}
    - recursive: {{ countdown(3) }}
    - imported_var: {{ version }}
    - module_var: {{ m.version }}
    - included: {% include 'lib/snippet.jinja' %}
