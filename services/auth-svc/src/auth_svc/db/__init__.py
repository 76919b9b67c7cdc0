"""auth_svc.db."""
