{%- set root = grains['root'] %}
static:
  file.managed:
    - name: {{ root }}/static.txt
    - source: salt://files/static_v2.txt

contents-list:
  file.managed:
    - name: {{ root }}/list.txt
    - contents: |
        line one
        line 2

mode-only:
  file.managed:
    - name: {{ root }}/etc/app.conf
    - replace: False
    - mode: '0600'

plain-hidden:
  file.managed:
    - name: {{ root }}/plain.txt
    - contents: changed
    - show_changes: False
