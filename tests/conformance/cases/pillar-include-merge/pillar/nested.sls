tier: {{ region | default('none') }}
replicas: 3
