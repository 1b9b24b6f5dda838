# The app: its config (from .config), a pretend restart when the config
# changes (watch -> mod_watch) and a command run only on changes.
include:
  - .config

app_restart:
  test.succeed_without_changes:
    - name: pretend app restart
    - watch:
      - file: app_config

app_notify:
  cmd.run:
    - name: echo config changed
    - onchanges:
      - file: app_config
