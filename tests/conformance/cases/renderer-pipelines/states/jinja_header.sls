#!jinja|yaml
#jinja2: {"trim_blocks": true, "lstrip_blocks": true}
header:
  test.nop:
    - text: |
        {% for i in [1, 2] %}
        item{{ i }}
        {% endfor %}
