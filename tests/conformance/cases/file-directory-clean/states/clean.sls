{%- set root = grains['root'] %}
{#- `kept.conf` is managed by a state the directory requires (through
    require_in), so clean spares it; the `old` tree goes (in
    test mode every path of it is listed, applied only `old` itself). #}
confd:
  file.directory:
    - name: {{ root }}/conf
    - mode: '0750'
    - clean: True
kept:
  file.managed:
    - name: {{ root }}/conf/kept.conf
    - contents: kept
    - require_in:
      - file: confd
