"""notify_svc.api."""
