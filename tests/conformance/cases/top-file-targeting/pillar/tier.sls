tier: gold
