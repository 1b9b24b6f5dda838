notdict: just-a-string
