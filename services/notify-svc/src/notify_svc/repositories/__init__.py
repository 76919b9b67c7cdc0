"""notify_svc.repositories."""
