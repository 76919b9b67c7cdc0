"""task_svc.services."""
