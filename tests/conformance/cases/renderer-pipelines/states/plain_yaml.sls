#!yaml
plain-yaml:
  test.nop:
    - raw: "{{ not rendered }}"
