no-shell:
  test.nop:
    - words: {{ salt['cmd.run']('echo a && echo b')|json }}
