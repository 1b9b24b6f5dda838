base:
  '*':
    - common
  'roles:web':
    - match: grain
    - web
  'G@datacenter:ams* and conformance-*':
    - match: compound
    - dc
  'L@other,conformance-minion':
    - match: list
    - listed
  'E@^conf.*minion$':
    - match: pcre
    - regex
  'nope-*':
    - never
