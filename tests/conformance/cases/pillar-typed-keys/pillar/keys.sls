# Mapping keys that are not strings: PyYAML builds None, True/False and inf
# keys, and Salt's Jinja sees those objects. A key 'null' (a string) is
# another key than ~ (None).
keys:
  ~: none-value
  yes: true-value
  off: false-value
  .inf: inf-value
  'null': string-null
  'True': string-true
  nested: {~: {yes: deep}}
bools: {yes: 1, no: 0}
floats: {-.inf: low, .nan: nan-value}
# An anchor on an empty key: the key is None.
lets: {&colorcolumn: 'join(range(121,121),",")'}
