{% import_yaml "data/defaults.yaml" as defaults %}
{% import_json "data/extra.json" as extra %}
{% import_text "data/motd.txt" as motd %}
{% import_yaml "data/templated.yaml" as templated %}
{% import_yaml tpldir ~ "/local.yaml" as local %}
{% import_yaml "./local.yaml" as dotlocal %}
svc-data:
  test.nop:
    - defaults: {{ defaults|json }}
    - extra: {{ extra|json }}
    - motd: {{ motd|json }}
    - templated: {{ templated|json }}
    - local: {{ local|json }}
    - dotlocal: {{ dotlocal|json }}
