{%- set acc = [] %}
{%- do salt['log.debug']('debug message ' ~ 1) %}
{%- do salt['log.info']('info message') %}
{%- do salt['log.warning']('warn') %}
{%- do salt['log.error']('error') %}
{%- do acc.append(salt['log.debug']('returns')) %}
{%- do acc.append('after') %}
log:
  test.nop:
    - acc: {{ acc|json }}
    - show: {{ salt['log.info']('inline') }}
