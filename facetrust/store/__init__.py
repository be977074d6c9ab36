"""Database engine and session setup, and the schema migrations."""
