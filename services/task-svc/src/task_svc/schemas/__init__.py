"""task_svc.schemas."""
