pillar-functions:
  test.nop:
    - get_nested: {{ salt['pillar.get']('app:settings:workers') }}
    - get_default: {{ salt['pillar.get']('app:missing', 'dflt') }}
    - get_delim: {{ salt['pillar.get']('app/name', delimiter='/') }}
    - get_merge: {{ salt['pillar.get']('app:settings', {'extra': 1}, merge=True)|json }}
    - item: {{ salt['pillar.item']('tier', 'replicas')|json }}
    - keys: {{ salt['pillar.keys']('users')|sort|json }}
    - raw_ports: {{ salt['pillar.raw']('app')['ports']|json }}
    - bracket: {{ pillar['users']['bob']|json }}
