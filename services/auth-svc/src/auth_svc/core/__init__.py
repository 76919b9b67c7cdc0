"""auth_svc.core."""
