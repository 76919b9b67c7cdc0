"""task_svc."""
