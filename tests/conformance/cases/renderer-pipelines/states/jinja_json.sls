#!jinja|json
{"jinja-json": {"test.nop": [{"n": {{ 1 + 2 }}}, {"os": "{{ grains['os'] }}"}]}}
