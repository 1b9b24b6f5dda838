{% set base = pillar['example_dir'] %}
app_config:
  file.managed:
    - name: {{ base }}/app/app.conf
    - contents: "setting = 1"
    - makedirs: True
