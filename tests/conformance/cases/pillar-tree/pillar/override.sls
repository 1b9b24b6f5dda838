web:
  grain_os: overridden
