hello:
  test.nop:
    - os: {{ grains['os'] }}
    - id: {{ grains.get('id', 'no-id-grain') }}
    - opts_id: {{ opts['id'] }}
