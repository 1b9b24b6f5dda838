percent:
  test.nop:
    - s: {{ "%s-%s" % ('a', 1) }}
    - d: {{ "%d items" % 3 }}
    - f: "{{ '%05.2f' % 3.14159 }}"
    - x: {{ '%x/%X/%o' % (255, 255, 8) }}
    - named: {{ "%(name)s is %(age)d" % {'name': 'bob', 'age': 42} }}
    - pad: "{{ '[%-6s][%6s]' % ('ab', 'cd') }}"
    - single: {{ "value=%s" % 'only' }}
    - pct: "{{ '100%%' % () }}"
    - repr: "{{ '%r' % 'q' }}"
