"""Repository tests: SQL functions against the real test PostgreSQL.

A package, so that mypy tells `repositories/test_jobs.py` from `api/test_jobs.py`."""
