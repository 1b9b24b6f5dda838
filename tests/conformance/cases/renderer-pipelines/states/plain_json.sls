#!json
{"plain-json": {"test": ["nop", {"k": [1, 2]}]}}
