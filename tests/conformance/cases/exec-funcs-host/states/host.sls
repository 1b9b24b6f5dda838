{#- Execution functions formulas call while rendering, on facts every Debian host has. #}
{%- set root = salt['user.info']('root') %}
{%- set rootgrp = salt['group.info']('root') %}
host-facts:
  test.nop:
    - has_sh: {{ salt['cmd.has_exec']('sh') }}
    - has_nothing: {{ salt['cmd.has_exec']('brine-no-such-program') }}
    - which_sh: {{ salt['cmd.which']('sh') is string }}
    - which_nothing: {{ salt['cmd.which']('brine-no-such-program') }}
    - env_default: {{ salt['environ.get']('BRINE_CONFORMANCE_UNSET', 'fallback') }}
    - env_missing: {{ salt['environ.get']('BRINE_CONFORMANCE_UNSET')|json }}
    - user_uid: {{ root['uid'] }}
    - user_gid: {{ root['gid'] }}
    - user_home: {{ root['home'] }}
    - user_name: {{ root['name'] }}
    - user_missing: {{ salt['user.info']('brine-no-such-user')|json }}
    - group_gid: {{ rootgrp['gid'] }}
    - group_name: {{ rootgrp['name'] }}
    - group_missing: {{ salt['group.info']('brine-no-such-group')|json }}
    - pkg_missing: {{ salt['pkg.version']('brine-no-such-package')|json }}
    - pkgs_is_map: {{ salt['pkg.list_pkgs']() is mapping }}
    - service_missing: {{ salt['service.available']('brine-no-such-service') }}
    - mine_empty: {{ salt['mine.get']('*', 'brine.nothing')|json }}
    - loopback: {{ '127.0.0.1' in salt['network.ip_addrs'](include_loopback=True) }}
    - no_loopback: {{ '127.0.0.1' in salt['network.ip_addrs']() }}
    - lo_interface: {{ 'lo' in salt['network.interfaces']() }}
    - hostname_is_text: {{ salt['network.get_hostname']() is string }}
    - test_true: {{ salt['test.true']() }}
    - test_false: {{ salt['test.false']() }}
    - test_arg: {{ salt['test.arg'](1, 'two', k='v')|json }}
    - test_outputter: {{ salt['test.outputter']('data')|json }}
