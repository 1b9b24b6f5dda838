app-listing:
  test.nop:
    - files: {{ salt['cp.list_master'](prefix='app/')|json }}
    - dirs: {{ salt['cp.list_master_dirs'](prefix='app')|json }}
    - states: {{ salt['cp.list_states']()|json }}
    - conf_found: {{ 'app/files/main.conf' in salt['cp.list_master']() }}
