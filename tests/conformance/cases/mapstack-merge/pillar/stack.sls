stack:
  lookup:
    pkg: stack-pillar
    list: [p]
    nested:
      override: 3
shadowed: from-pillar
merged:
  from_pillar: 1
