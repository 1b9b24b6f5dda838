{%- from "vars.jinja" import dump with context %}
{{ dump('formula-sub-init') }}
