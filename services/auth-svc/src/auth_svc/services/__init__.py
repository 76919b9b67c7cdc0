"""auth_svc.services."""
