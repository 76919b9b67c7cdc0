"""task_svc.db."""
