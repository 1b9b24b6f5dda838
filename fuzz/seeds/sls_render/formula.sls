{% set users = salt['pillar.get']('users', {}) %}
{% from "map.yaml" import_yaml as m %}
include:
  - other
{% for name, user in users.items() %}
user-{{ name }}:
  user.present:
    - name: {{ name }}
    - uid: {{ user.uid }}
    - home: {{ user.get('home', '/home/%s' % name) }}
{% endfor %}
{% if grains['os_family'] == 'Debian' %}
/etc/motd:
  file.managed:
    - contents: {{ "hello %s" | format(grains.id) | yaml_dquote }}
    - require:
      - user: user-alice
    - watch_in:
      - service: nginx
{% endif %}
nginx:
  service.running:
    - enable: True
    - listen:
      - file: /etc/motd
