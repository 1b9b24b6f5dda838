include:
  - common

site-dir:
  file.directory:
    - name: {{ grains['root'] }}/www
    - require:
      - file: motd

index:
  file.managed:
    - name: {{ grains['root'] }}/www/index.html
    - contents: hello
    - require:
      - file: site-dir
