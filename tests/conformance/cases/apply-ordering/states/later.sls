{%- set root = grains['root'] %}
from-later:
  cmd.run:
    - name: echo later >> {{ root }}/order.log
    - require_in:
      - cmd: require-in-target
by-sls:
  cmd.run:
    - name: echo by-sls >> {{ root }}/order.log
    - require:
      - sls: steps
