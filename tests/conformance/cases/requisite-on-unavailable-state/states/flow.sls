{#- telegraf-formula's pattern: a state requires a state whose module does
    not load here (pip.installed where no pip module is available). The
    requirer is not run: "One or more requisite failed", __state_ran__ False. #}
toml:
  nosuchmodule.installed
config:
  test.succeed_with_changes:
    - require:
      - nosuchmodule: toml
after:
  test.succeed_without_changes:
    - require:
      - test: config
