"""notify_svc.db."""
