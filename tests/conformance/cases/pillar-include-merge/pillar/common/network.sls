network:
  dns: [192.0.2.53]
