net_tests:
  test.nop:
    - is_ip: {{ ['10.0.0.1'|is_ip, 'fe80::1'|is_ip, 'host'|is_ip, '10.0.0.0/8'|is_ip]|json }}
    - is_ipv4: {{ ['10.0.0.1'|is_ipv4, 'fe80::1'|is_ipv4]|json }}
    - is_ipv6: {{ ['10.0.0.1'|is_ipv6, 'fe80::1'|is_ipv6]|json }}
    - is_ip_opts: {{ ['10.0.0.1'|is_ip(options='private'), '8.8.8.8'|is_ip(options='public'), '127.0.0.1'|is_ip(options='loopback')]|json }}
