"""Stores for the ledger: in memory, and SQL (SQLite or PostgreSQL) on SQLAlchemy 2."""
