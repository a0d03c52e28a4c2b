"""Unit tests: the domain and its use cases over the in-memory store; no network, no disk."""
