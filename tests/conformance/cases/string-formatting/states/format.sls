format:
  test.nop:
    - pos: {{ '{}-{}'.format('a', 'b') }}
    - idx: {{ '{1}{0}'.format('x', 'y') }}
    - kw: {{ '{name}:{port}'.format(name='host', port=80) }}
    - spec: "{{ '{:>6}|{:<4}|{:^5}|{:08.3f}'.format('r', 'l', 'c', 2.5) }}"
    - attr: {{ '{0[k]}'.format({'k': 'v'}) }}
    - fstyle_filter: {{ '%s+%s'|format('p', 'q') }}
    - comma: "{{ '{:,}'.format(1234567) }}"
