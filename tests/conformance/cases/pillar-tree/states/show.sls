show:
  test.nop:
    - pillar: {{ pillar|json }}
    - get_nested: {{ salt['pillar.get']('common:nested:b') }}
    - get_list_index: {{ salt['pillar.get']('common:list:0', 'dflt')|json }}
    - items_keys: {{ pillar.keys()|list|sort|json }}
