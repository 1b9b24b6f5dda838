{%- set by_family = salt['grains.filter_by']({'Debian': {'pkg': 'apache2'}, 'RedHat': {'pkg': 'httpd'}}) %}
{%- set by_os = salt['grains.filter_by']({'default': {'svc': 'x'}, 'Ubuntu': {'svc': 'u'}}, grain='os', default='default') %}
{%- set by_release = salt['grains.filter_by']({12: {'codename': 'bookworm'}, 'default': {'codename': 'other'}}, grain='osmajorrelease') %}
{%- set merged = salt['grains.filter_by']({'Debian': {'a': 1, 'b': {'c': 2}}}, merge={'b': {'d': 3}}) %}
{%- set based = salt['grains.filter_by']({'common': {'x': 1, 'y': 1}, 'Debian': {'y': 2}}, base='common') %}
{%- set missing = salt['grains.filter_by']({'RedHat': {'pkg': 'httpd'}}) %}
grains-calls:
  test.nop:
    - get_nested: {{ salt['grains.get']('app:nested:deep') }}
    - get_list_index: {{ salt['grains.get']('app:ports:1') }}
    - get_default: {{ salt['grains.get']('app:none', 'fallback') }}
    - get_delimiter: {{ salt['grains.get']('app/tier', delimiter='/') }}
    - item: {{ salt['grains.item']('os', 'roles')|json }}
    - has_value: {{ [salt['grains.has_value']('app:tier'), salt['grains.has_value']('app:none')]|json }}
    - equals: {{ salt['grains.equals']('os', 'Debian') }}
    - by_family: {{ by_family|json }}
    - by_os: {{ by_os|json }}
    - by_release: {{ by_release|json }}
    - merged: {{ merged|json }}
    - based: {{ based|json }}
    - missing: {{ missing|json }}
    - attr_access: {{ grains.app.tier }}
    - in_list: {{ 'db' in grains['roles'] }}
