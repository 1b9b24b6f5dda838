{%- set root = grains['root'] %}
tree:
  file.directory:
    - name: {{ root }}/a/b/c
    - makedirs: True

private:
  file.directory:
    - name: {{ root }}/private
    - mode: '0700'

no-makedirs:
  file.directory:
    - name: {{ root }}/x/y

seed-file:
  file.managed:
    - name: {{ root }}/a/seed.txt
    - contents: |
        alpha=1
        beta=2

appended:
  file.append:
    - name: {{ root }}/a/seed.txt
    - text:
      - gamma=3
    - require:
      - file: seed-file

replaced:
  file.replace:
    - name: {{ root }}/a/seed.txt
    - pattern: '^beta=.*$'
    - repl: 'beta=20'
    - require:
      - file: appended

gone:
  file.absent:
    - name: {{ root }}/not-there

copy:
  file.copy:
    - name: {{ root }}/copy.txt
    - source: {{ root }}/a/seed.txt
    - require:
      - file: replaced

touched:
  file.touch:
    - name: {{ root }}/touched

exists-check:
  file.exists:
    - name: {{ root }}/a/seed.txt

missing-check:
  file.missing:
    - name: {{ root }}/nothing-here
