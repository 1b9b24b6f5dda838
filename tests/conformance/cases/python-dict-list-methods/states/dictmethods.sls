{%- set d = {'a': 1, 'b': 2} %}
{%- do d.update({'c': 3}) %}
{%- do d.update(e=5) %}
{%- set sd1 = d.setdefault('a', 100) %}
{%- set sd2 = d.setdefault('f', []) %}
{%- do d['f'].append('x') %}
{%- set popped = d.pop('b') %}
{%- set popped_default = d.pop('zz', 'none') %}
{%- set nested = {} %}
{%- do nested.setdefault('lvl1', {}).setdefault('lvl2', []).append(1) %}
{%- set copied = d.copy() %}
{%- do copied.update({'a': 'changed'}) %}
dictmethods:
  test.nop:
    - d: {{ d|json }}
    - sd: {{ [sd1, sd2]|json }}
    - popped: {{ [popped, popped_default]|json }}
    - get: {{ [d.get('a'), d.get('missing'), d.get('missing', 'dflt')]|json }}
    - keys: {{ d.keys()|list|json }}
    - values: {{ d['a'] }}
    - items: {{ d.items()|list|json }}
    - items_loop: {% for k, v in d|dictsort %}{{ k }}={{ v }};{% endfor %}
    - nested: {{ nested|json }}
    - copied: {{ [copied.a, d.a]|json }}
    - in: {{ ['a' in d, 'b' in d]|json }}
    - fromkeys: {{ dict(x=1, y=2)|json }}
    - len: {{ d|length }}
