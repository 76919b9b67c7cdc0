"""Repository tests: SQL functions against the real test PostgreSQL."""
