env: {{ env_name }}
zero: 0
empty: ''
flag: false
