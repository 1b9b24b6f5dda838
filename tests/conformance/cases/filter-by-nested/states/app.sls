{%- set base = salt['grains.filter_by']({
    'default': {'pkg': 'app', 'service': 'app', 'config': {'port': 80, 'user': 'root', 'opts': ['a']}},
    'Debian': {'pkg': 'app-deb', 'config': {'user': 'www-data'}},
    'RedHat': {'pkg': 'app-rpm', 'config': {'user': 'apache'}},
  }, grain='os_family', merge=salt['pillar.get']('app:lookup'), base='default') %}
{%- set release = salt['grains.filter_by']({
    '20': {'codename': 'focal'},
    '22': {'codename': 'jammy'},
  }, grain='osmajorrelease', default='20') %}
{%- set finger = salt['grains.filter_by']({
    'Ubuntu-*': {'family_glob': 'matched'},
    'default': {'family_glob': 'default'},
  }, grain='osfinger') %}
{%- set by_role = salt['grains.filter_by']({
    'db': 'database', 'cache': 'memcached', 'default': 'none'}, grain='roles') %}
{%- set missing = salt['grains.filter_by']({
    'x': 1, 'fallback': 2}, grain='no_such_grain', default='fallback') %}
{%- set nomatch = salt['grains.filter_by']({'x': 1}, grain='no_such_grain') %}
app-settings:
  test.nop:
    - base: {{ base|json }}
    - release: {{ release|json }}
    - finger: {{ finger|json }}
    - by_role: {{ by_role|json }}
    - missing: {{ missing|json }}
    - nomatch: {{ nomatch|json }}
