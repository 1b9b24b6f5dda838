common:
  os_from_grains: {{ grains['os'] }}
  id: {{ grains['id'] }}
  computed: {{ [1, 2, 3] | sum }}
  echo: {{ salt['test.echo']('from-pillar') }}
