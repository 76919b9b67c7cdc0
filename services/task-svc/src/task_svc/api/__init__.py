"""task_svc.api."""
