{%- set users = [{'name': 'bob', 'uid': 1002, 'groups': ['adm']}, {'name': 'al', 'uid': 1001, 'groups': []}, {'name': 'cy', 'uid': 1003, 'groups': ['adm', 'www']}] %}
{%- set ns = namespace(total=0, names=[]) %}
{%- for u in users if u.groups %}
  {%- set ns.total = ns.total + u.uid %}
  {%- do ns.names.append(u.name ~ ':' ~ loop.index ~ '/' ~ loop.length ~ (':last' if loop.last else '')) %}
{%- endfor %}
builtins:
  test.nop:
    - ns: {{ [ns.total, ns.names]|json }}
    - map_attr: {{ users|map(attribute='name')|list|json }}
    - selectattr: {{ users|selectattr('uid', '>', 1001)|map(attribute='name')|join(',') }}
    - rejectattr: {{ users|rejectattr('groups')|map(attribute='name')|list|json }}
    - sort_attr: {{ users|sort(attribute='uid')|map(attribute='name')|list|json }}
    - groupby: {{ [{'t': 'a', 'n': 1}, {'t': 'b', 'n': 2}, {'t': 'a', 'n': 3}]|groupby('t')|list|json }}
    - dictsort: {{ {'b': 1, 'a': 2}|dictsort|json }}
    - default: {{ [undefined_var|default('d'), none|default('n', true), ''|default('e', true)]|json }}
    - batch: {{ [1, 2, 3, 4, 5]|batch(2)|list|json }}
    - slice: {{ [1, 2, 3, 4, 5]|slice(2)|list|json }}
    - sum: {{ [[1, 2, 3]|sum, users|sum(attribute='uid')]|json }}
    - int_float: {{ ['42'|int, '3.5'|float, 'x'|int(7), '0x1A'|int(0, 16)]|json }}
    - string: {{ 42|string|json }}
    - round: {{ [2.567|round(1), 2.5|round, 2.1|round(0, 'ceil')]|json }}
    - abs: {{ -3|abs }}
    - first_last: {{ [[1, 2, 3]|first, [1, 2, 3]|last]|json }}
    - reverse: {{ [1, 2, 3]|reverse|list|json }}
    - unique_builtin: {{ ['a', 'A', 'b']|unique|list|json }}
    - replace: {{ 'aXbX'|replace('X', '-') }}
    - truncate: {{ 'hello world foo'|truncate(9, True, '...') }}
    - wordcount: {{ 'one two three'|wordcount }}
    - center: "{{ 'x'|center(5) }}"
    - format: {{ '%s=%s'|format('k', 'v') }}
    - trim: {{ '  t  '|trim }}
    - title: {{ 'a title'|title }}
    - capitalize: {{ 'hELLO'|capitalize }}
    - list_str: {{ 'abc'|list|json }}
    - select: {{ [0, 1, 2, none, '']|select|list|json }}
    - reject_odd: {{ range(6)|reject('odd')|list|json }}
    - tests: {{ [1 is number, 'a' is string, {} is mapping, [] is sequence, none is none, x is defined, 4 is divisibleby 2, 'a' is in 'abc', 3 is gt 2]|json }}
    - items_filter: {{ {'k': 'v'}|items|list|json }}
    - lipsum_len: {{ 'abc'|length }}
    - min_max_builtin: {{ [[3, 1]|min, [3, 1]|max]|json }}
    - join_attr: {{ users|join(',', attribute='name') }}
    - attr: {{ {'a': 1}|attr('get')('a') if false else 'skip' }}
    - loop_cycle: {% for i in range(3) %}{{ loop.cycle('o', 'e') }}{% endfor %}
    - whitespace: "{{- ' a ' -}}"
    - raw: "{% raw %}{{ not rendered }}{% endraw %}"
    - filesizeformat: {{ 123456|filesizeformat }}
    - urlencode: {{ 'a b&c'|urlencode }}
    - escape: "{{ '<a>'|e }}"
