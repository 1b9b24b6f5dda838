{%- from "myapp/libtofs/files_switch.jinja" import files_switch with context %}
myapp-config:
  file.managed:
    - name: /etc/myapp/app.conf
    - source: {{ files_switch(['app.conf', 'app.conf.jinja'], lookup='myapp-config') }}
    - template: jinja

myapp-other:
  file.managed:
    - name: /etc/myapp/other.conf
    - source: {{ files_switch(['other.conf'], lookup='myapp-other', default_files_switch=['os', 'roles'], indent_width=6) }}
