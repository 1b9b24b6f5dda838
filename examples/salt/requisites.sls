# require_in, onfail and onfail that does not fire.
{% set base = pillar['example_dir'] %}
marker:
  file.managed:
    - name: {{ base }}/marker
    - contents: "marker"
    - require_in:
      - cmd: after_marker

after_marker:
  cmd.run:
    - name: echo after

broken:
  test.fail_without_changes:
    - name: this fails

recover:
  test.succeed_with_changes:
    - name: recovery
    - onfail:
      - test: broken

not_needed:
  test.succeed_with_changes:
    - onfail:
      - file: marker
