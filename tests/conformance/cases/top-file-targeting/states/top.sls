base:
  '*':
    - common
  'conformance-*':
    - by_glob
  'os:Debian':
    - match: grain
    - by_grain
  'roles:web':
    - match: grain
    - by_grain_list
  'G@os:Debian and not G@roles:db':
    - match: compound
    - by_compound
  'conformance-minion,other':
    - match: list
    - by_list
  '^conformance-m.*$':
    - match: pcre
    - by_pcre
  'nomatch*':
    - never
  'I@tier:gold':
    - match: compound
    - by_pillar
