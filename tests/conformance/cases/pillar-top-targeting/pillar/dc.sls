dc: {{ grains['datacenter'] | upper }}
