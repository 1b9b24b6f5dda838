{% set base = pillar['example_dir'] %}
motd:
  file.managed:
    - name: {{ base }}/motd
    - contents: "Welcome to brine"
    - makedirs: True
