{% set root = grains['root'] %}
{{ root }}/mnt/data:
  mount.mounted:
    - device: host:/data
    - fstype: nfs
    - opts: ro,vers=3
    - mkmnt: True
    - mount: False
    - persist: True
    - config: {{ root }}/fstab

{{ root }}/mnt/gone:
  mount.unmounted:
    - device: host:/gone
    - persist: True
    - config: {{ root }}/fstab

{{ root }}/mnt/other:
  mount.unmounted:
    - device: host:/somewhere-else
    - persist: True
    - config: {{ root }}/fstab
