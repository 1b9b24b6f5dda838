{%- from "vars.jinja" import dump with context %}
{{ dump('top-level') }}
