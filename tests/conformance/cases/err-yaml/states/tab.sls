x:
	test.nop
