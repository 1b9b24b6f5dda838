net_addr:
  test.nop:
    - ipaddr_list: {{ ['192.168.0.1', 'foo', 'fe80::1', '10.0.0.0/24']|ipaddr|json }}
    - ipv4_list: {{ ['192.168.0.1', 'fe80::1', '10.1.2.3']|ipv4|json }}
    - ipv6_list: {{ ['192.168.0.1', 'fe80::1']|ipv6|json }}
    - ipaddr_single: {{ '192.168.0.1'|ipaddr|json }}
    - ipv4_private: {{ ['192.168.0.1', '8.8.8.8']|ipv4('private')|json }}
    - network_size: {{ '192.168.0.0/24'|network_size }}
    - network_hosts: {{ '10.0.0.0/30'|network_hosts|json }}
    - ipwrap: {{ ['fe80::1'|ipwrap, '10.0.0.1'|ipwrap]|json }}
