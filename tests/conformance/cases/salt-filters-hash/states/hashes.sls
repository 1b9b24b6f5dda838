hashes:
  test.nop:
    - md5: {{ 'salt'|md5 }}
    - sha1: {{ 'salt'|sha1 }}
    - sha256: {{ 'salt'|sha256 }}
    - sha512: {{ 'salt'|sha512 }}
    - hmac: {{ 'salt'|hmac_compute('shared secret') }}
    - uuid: {{ 'example'|uuid }}
