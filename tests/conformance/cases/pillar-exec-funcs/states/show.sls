show-pillar:
  test.succeed_without_changes:
    - name: {{ pillar['from_cmd'] }} {{ pillar['basename'] }}
