{#- The pillar's draws, printed where Salt does not mask them. #}
{%- set drawn = ['a', 'b'] | random %}
pick:
  test.configurable_test_state:
    - name: "drawn from the list: {{ drawn in ['a', 'b'] }}"
    - changes: False
    - comment: "{{ pillar.only_item }} {{ pillar.only_char }} {{ pillar.in_range }} {{ pillar.is_number }} {{ pillar.empty_is_defined }} {{ ('abc' | random) in 'abc' }}"
