"""Business rules: plain functions that take plain arguments and own their unit of work."""
