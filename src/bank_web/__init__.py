"""The ledger's REST API: FastAPI routes that translate HTTP to use cases and back."""
