"""auth_svc.schemas."""
