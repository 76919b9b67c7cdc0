"""notify_svc.services."""
