base:
  '*':
    - common
    - apps.web
  'os:Debian':
    - match: grain
    - debian
  'nomatch':
    - never
  'conformance-minion':
    - override
