"""notify_svc.core."""
