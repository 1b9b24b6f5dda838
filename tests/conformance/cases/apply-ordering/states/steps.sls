{%- set root = grains['root'] %}
step-c:
  cmd.run:
    - name: echo c >> {{ root }}/order.log
    - require:
      - cmd: step-b
step-a:
  cmd.run:
    - name: echo a >> {{ root }}/order.log
step-b:
  cmd.run:
    - name: echo b >> {{ root }}/order.log
    - require:
      - cmd: step-a
step-first:
  cmd.run:
    - name: echo first >> {{ root }}/order.log
    - order: 1
step-last:
  cmd.run:
    - name: echo last >> {{ root }}/order.log
    - order: last
require-in-target:
  cmd.run:
    - name: echo target >> {{ root }}/order.log
