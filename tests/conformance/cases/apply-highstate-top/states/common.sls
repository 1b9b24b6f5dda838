motd:
  file.managed:
    - name: {{ grains['root'] }}/motd
    - contents: welcome
