{%- set l = [3, 1, 2] %}
{%- do l.append(4) %}
{%- do l.extend([5, 6]) %}
{%- do l.insert(0, 0) %}
{%- set p = l.pop() %}
{%- set p0 = l.pop(0) %}
{%- do l.remove(1) %}
{%- set srt = [3, 1, 2] %}
{%- do srt.sort() %}
{%- set rev = [1, 2, 3] %}
{%- do rev.reverse() %}
{%- set words = ['b', 'A', 'c'] %}
listmethods:
  test.nop:
    - l: {{ l|json }}
    - popped: {{ [p, p0]|json }}
    - index: {{ l.index(4) }}
    - count: {{ [1, 1, 2].count(1) }}
    - sorted: {{ srt|json }}
    - reversed: {{ rev|json }}
    - sort_filter: {{ words|sort|json }}
    - sort_cs: {{ words|sort(case_sensitive=True)|json }}
    - concat: {{ ([1] + [2, 3])|json }}
    - slice: {{ l[1:3]|json }}
    - neg: {{ l[-1] }}
    - in: {{ 3 in l }}
    - copy: {{ l.copy()|json }}
    - tuple: {{ (1, 2)|list|json }}
    - range: {{ range(3)|list|json }}
    - range_step: {{ range(10, 0, -3)|list|json }}
