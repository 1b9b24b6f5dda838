web:
  sls: {{ sls }}
  grain_os: {{ grains['os'] }}
  tpldir: {{ tpldir }}
