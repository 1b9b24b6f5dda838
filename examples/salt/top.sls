# The example highstate: every minion gets the motd and the app.
# The states write under pillar['example_dir'] (pass it with
# pillar='{"example_dir": "/some/dir"}'), so they are safe to try anywhere.
base:
  '*':
    - motd
    - app
