"""notify_svc.schemas."""
