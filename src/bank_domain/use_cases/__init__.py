"""The ledger's use cases: one class each, called with a command, run in one unit of work."""
