app:
  config:
    name: demo
    port: 8080
    enabled: true
    ratio: 0.5
    tags: [b, a]
    nested:
      zeta: 1
      alpha: '0644'
      empty: {}
      none: ~
  secret: hunter2
