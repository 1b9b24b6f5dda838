dates:
  test.nop:
    - strftime_str: {{ '2024-01-15'|strftime('%d/%m/%Y') }}
    - strftime_ts: {{ 1700000000|strftime('%Y-%m-%dT%H:%M:%S') }}
    - date_format: {{ '2024-01-15 10:20:30'|date_format('%H:%M') }}
