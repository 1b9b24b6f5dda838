{%- set params = {'name': '/etc/x', 'mode': '0644', 'makedirs': True} %}
sls_params:
  file.managed:
    {{ params|dict_to_sls_yaml_params|indent(4) }}
sls_params_text:
  test.nop:
    - text: {{ params|dict_to_sls_yaml_params|json }}
    - flow: {{ params|dict_to_sls_yaml_params(flow_style=True)|json }}
