x:
  test.nop:
    - name: {{ {"a": 1} | random }}
