{%- set root = grains['root'] %}
make-file:
  cmd.run:
    - name: echo made > {{ root }}/made.txt
    - creates: {{ root }}/made.txt

with-cwd:
  cmd.run:
    - name: pwd
    - cwd: {{ root }}

with-env:
  cmd.run:
    - name: echo "$GREETING $OTHER"
    - env:
      - GREETING: hello
      - OTHER: world

stderr-and-fail:
  cmd.run:
    - name: echo out; echo err >&2; exit 2

multi-line-output:
  cmd.run:
    - name: printf 'a\nb\n\n'

watched-trigger:
  file.managed:
    - name: {{ root }}/trigger
    - contents: v1

on-trigger:
  cmd.run:
    - name: echo triggered >> {{ root }}/triggered.log
    - onchanges:
      - file: watched-trigger

watch-rerun:
  cmd.run:
    - name: echo watched
    - watch:
      - file: watched-trigger

wait-style:
  cmd.wait:
    - name: echo waited
    - watch:
      - file: watched-trigger

requires-failure:
  cmd.run:
    - name: echo never
    - require:
      - cmd: stderr-and-fail

onfail-handler:
  cmd.run:
    - name: echo handling failure
    - onfail:
      - cmd: stderr-and-fail

hide-output:
  cmd.run:
    - name: echo secret
    - hide_output: True
