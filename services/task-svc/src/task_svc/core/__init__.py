"""task_svc.core."""
