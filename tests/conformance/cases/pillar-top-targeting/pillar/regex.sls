regex: matched
