{%- from "vars.jinja" import dump with context %}
include:
  - .sub
  - formula.sub.leaf
{{ dump('formula-init') }}
