"""ORM models of task_svc; importing this package registers every table on `Base.metadata`."""

from task_svc.models.base import Base
from task_svc.models.outbox import OutboxEvent
from task_svc.models.task import (
    LIST_VERSION_SLOTS,
    OPEN_STATUSES,
    STATUS_VERSION_SLOTS,
    Tag,
    Task,
    TaskListVersion,
    TaskPriority,
    TaskStatus,
    TaskStatusVersion,
    task_tags,
)

__all__ = [
    "LIST_VERSION_SLOTS",
    "OPEN_STATUSES",
    "STATUS_VERSION_SLOTS",
    "Base",
    "OutboxEvent",
    "Tag",
    "Task",
    "TaskListVersion",
    "TaskPriority",
    "TaskStatus",
    "TaskStatusVersion",
    "task_tags",
]
