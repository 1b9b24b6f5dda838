{%- set shared_var = 'outer' %}
{% include "parts/common.jinja" %}
{% include "parts/missing.jinja" ignore missing %}
{% include ["parts/nope.jinja", "parts/common2.jinja", "parts/common.jinja"] ignore missing without context %}
