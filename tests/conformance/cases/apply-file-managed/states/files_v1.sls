{%- set root = grains['root'] %}
templated:
  file.managed:
    - name: {{ root }}/etc/app.conf
    - source: salt://files/app.conf.j2
    - template: jinja
    - makedirs: True
    - mode: '0640'
    - defaults:
        name: app
        port: 80
        opts_list: [a, b]
    - context:
        port: 8080

static:
  file.managed:
    - name: {{ root }}/static.txt
    - source: salt://files/static.txt

source-fallback:
  file.managed:
    - name: {{ root }}/fallback.txt
    - source:
      - salt://files/does-not-exist.txt
      - salt://files/static.txt

contents-list:
  file.managed:
    - name: {{ root }}/list.txt
    - contents:
      - line one
      - line two

contents-pillar:
  file.managed:
    - name: {{ root }}/motd
    - contents_pillar: motd

no-replace:
  file.managed:
    - name: {{ root }}/static.txt
    - replace: False
    - contents: ignored

missing-source:
  file.managed:
    - name: {{ root }}/never.txt
    - source: salt://files/nope.txt

no-parent:
  file.managed:
    - name: {{ root }}/no/such/dir/file.txt
    - contents: x

empty-file:
  file.managed:
    - name: {{ root }}/empty

with-source-hash-skip:
  file.managed:
    - name: {{ root }}/plain.txt
    - contents: plain
    - show_changes: False
