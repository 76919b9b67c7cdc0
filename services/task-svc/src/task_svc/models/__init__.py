"""ORM models of task_svc; importing this package registers every table on `Base.metadata`."""

from task_svc.models.base import Base

__all__ = ["Base"]
