{% set root = grains['root'] %}
# Only ever applied with test=True: a real run would mount.
{{ root }}/mnt/data/:
  mount.mounted:
    - device: host:/data
    - fstype: nfs

{{ root }}/mnt/new:
  mount.mounted:
    - device: /dev/disk/by-label/none
    - fstype: ext4
    - mkmnt: True

{{ root }}/mnt/missing:
  mount.mounted:
    - device: UUID=1234-ABCD
    - fstype: vfat

{{ root }}/mnt/keep:
  mount.mounted:
    - device: host:/keep
    - fstype: nfs
    - mount: False
    - persist: True
    - config: {{ root }}/fstab

