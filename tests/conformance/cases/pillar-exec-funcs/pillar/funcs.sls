{#- A masterless minion renders its pillar with its own execution functions. #}
{%- set built = salt['status.time']('%Y') %}
from_cmd: {{ salt['cmd.run']('echo pillar-from-cmd') }}
basename: {{ salt['file.basename']('/srv/app/config.yml') }}
year_is_digits: {{ built is string and built|length == 4 }}
joined: {{ salt['file.join']('/etc', 'app', 'x.conf') }}
has_sh: {{ salt['cmd.has_exec']('sh') }}
echo: {{ salt['test.echo']('hello') }}
callable_time: {{ salt['status.time']|default(none) is callable }}
