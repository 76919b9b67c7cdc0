"""task_svc.repositories."""
