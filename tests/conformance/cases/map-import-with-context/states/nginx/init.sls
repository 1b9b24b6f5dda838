{%- from "nginx/map.jinja" import nginx, from_sls, server_block with context %}
{%- from tpldir ~ "/map.jinja" import nginx as nginx2 with context %}
{%- import "nginx/map.jinja" as m with context %}
nginx-config:
  test.nop:
    - nginx: {{ nginx|json }}
    - same: {{ (nginx == nginx2)|json }}
    - from_sls: {{ from_sls }}
    - block: {{ server_block('a.example') }}
    - block2: {{ m.server_block('b.example', port=8080) }}
