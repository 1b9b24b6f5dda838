base64:
  test.nop:
    - enc: {{ 'hello world'|base64_encode }}
    - dec: {{ 'aGVsbG8gd29ybGQ='|base64_decode }}
    - roundtrip: {{ 'ünïcode'|base64_encode|base64_decode }}
