good: {{ 1 + 1 }}
