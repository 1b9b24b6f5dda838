{%- set root = opts.file_roots.base[0] ~ '/files' %}
random:
  test.nop:
    - sample: {{ range(10)|list|random_sample(4, seed='42') }}
    - sample_str: {{ ['a', 'b', 'c', 'd', 'e']|random_sample(2, '7') }}
    - sample_chars: {{ 'abcdef'|random_sample(size=3, seed='salt') }}
    - sample_big: {{ range(100)|list|random_sample(3, seed='ünï') }}
    - sample_many: {{ range(1000)|list|random_sample(12, seed='many') }}
    - shuffle: {{ range(8)|list|random_shuffle(seed='3') }}
    - shuffle_empty_seed: {{ [1, 2, 3]|random_shuffle('') }}
    - shuffle_words: {{ ['web', 'db', 'cache', 'queue', 'log']|random_shuffle(seed='minion-1') }}
    - sample_range: {{ range(10)|random_sample(4, seed='42') }}
    - shuffle_range: {{ range(8)|random_shuffle(seed='3') }}
    - shuffle_chars: {{ 'abcdef'|random_shuffle(seed='x') }}
    - unseeded_len: {{ [1, 2, 3]|random_shuffle|length }}
    - unseeded_sorted: {{ [3, 1, 2]|random_sample(3)|sort }}
    - hash_len: {{ 100|random_hash|length }}
    - hash_zero: {{ 0|random_hash }}
    - hash_sha256_len: {{ 100|rand_str('sha256')|length }}
    - str_len: {{ 16|random_str|length }}
    - mac_prefix: {{ ('52:54:00'|gen_mac).startswith('52:54:00:') }}
    - mac_len: {{ '52:54:00'|gen_mac|length }}

files:
  test.nop:
    - empty: {{ (root ~ '/empty.txt')|is_empty }}
    - not_empty: {{ (root ~ '/text.txt')|is_empty }}
    - missing_empty: {{ (root ~ '/missing')|is_empty }}
    - text_is_text: {{ (root ~ '/text.txt')|is_text_file }}
    - bin_is_text: {{ (root ~ '/bin.dat')|is_text_file }}
    - missing_is_text: {{ (root ~ '/missing')|is_text_file }}
    - bin_is_bin: {{ (root ~ '/bin.dat')|is_bin_file }}
    - text_is_bin: {{ (root ~ '/text.txt')|is_bin_file }}
    - dir_is_bin: {{ root|is_bin_file }}
    - listed: {{ (root ~ '/tree')|list_files|sort|json }}
    - hashsum: {{ (root ~ '/text.txt')|file_hashsum }}
    - hashsum_md5: {{ (root ~ '/text.txt')|file_hashsum('md5') }}
    - hashsum_sha1: {{ (root ~ '/text.txt')|file_hashsum(form='sha1') }}

system:
  test.nop:
    - root_uid: {{ 'root'|get_uid }}
    - unknown_uid: {{ 'no-such-user-here'|get_uid }}
    - sh: {{ 'sh'|which }}
    - missing_program: {{ 'no-such-program-here'|which }}
    - absolute: {{ '/bin/sh'|which }}
    - hmac_ok: {{ 'salt'|hmac('secret', 'hoVxX2132GWCjsm3bNMpI+Ooszpn2oRRM+IEMU9rsQs=') }}
    - hmac_bad: {{ 'salt'|hmac('secret', 'nope') }}
    - mac_equal: {{ '08:00:27:13:69:77'|mac_str_to_bytes == '080027136977'|mac_str_to_bytes }}
    - mac_length: {{ '08-00-27-13-69-77'|mac_str_to_bytes|length }}
    - dns_loopback: {{ '127.0.0.1'|dns_check(1) }}

net:
  test.nop:
    - host: {{ '10.0.0.1'|ip_host }}
    - hosts: {{ ['10.0.0.1/24', 'fe80::1', 'x']|ip_host }}
    - netmask: {{ '192.168.1.5/255.255.255.0'|ip_host }}
    - none: {{ 'x'|ip_host }}
    - v6_only: {{ ['10.0.0.1', 'fe80::1/64']|ip_host(version=6) }}
    - by_networks: {{ ['10.0.0.1', '192.168.0.5', 'fe80::1']|filter_by_networks(['192.168.0.0/24', 'fe80::/64']) }}
    - by_networks_map: {{ {'eth0': ['192.168.0.5', '10.1.1.1'], 'lo': ['127.0.0.1']}|filter_by_networks(['192.168.0.0/16', '192.168.0.0/24']) }}
    - no_networks: {{ ['10.0.0.1']|filter_by_networks(None) }}
    - empty_networks: {{ ['10.0.0.1']|filter_by_networks([]) }}

data:
  test.nop:
    - max_case: {{ ['B', 'a', 'A']|max }}
    - min_case: {{ ['b', 'B', 'a']|min }}
    - min_dict: {{ {'b': 1, 'a': 2}|min }}
    - max_str: {{ 'hello'|max }}
    - max_mixed: {{ [1, 2.5, True]|max }}
    - max_lists: {{ [[1, 2], [1, 3], [0, 9]]|max }}
    - mysql: {{ ['+----+------+-------+', '| id | name | size  |', '+----+------+-------+', '| 1  | foo  | 2.5   |', '| 2  | bar  | 10    |', '+----+------+-------+']|mysql_to_dict('name')|json }}
    - wl_glob: {{ 'web1'|check_whitelist_blacklist(whitelist='web*') }}
    - bl_regex: {{ 'web1'|check_whitelist_blacklist(blacklist=['web\d']) }}
    - both: {{ 'db1'|check_whitelist_blacklist(['web*'], ['db*']) }}
    - neither: {{ 'db1'|check_whitelist_blacklist }}
    - encoded_len: {{ {'a': 'b', 'c': [1, 'x']}|json_encode_dict|length }}
    - encoded_list_len: {{ ['a', 1]|json_decode_list|length }}
    - equalto: {{ [1, 2, 3]|select('equalto', 2)|list }}
