"""auth_svc.repositories."""
