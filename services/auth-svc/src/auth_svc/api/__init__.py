"""auth_svc.api."""
