{#- Jinja2's own `random` filter (prometheus-formula's pillar.example draws
    `{{ range(1, 100000) | random }}`): the draw itself differs from run to
    run, so only what does not depend on it is printed. #}
only_item: {{ ['only'] | random }}
only_char: {{ 'x' | random }}
in_range: {{ (range(1, 100000) | random) in range(1, 100000) }}
is_number: {{ (range(1, 100000) | random) is number }}
empty_is_defined: {{ ([] | random) is defined }}
