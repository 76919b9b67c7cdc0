"""ORM models of notify_svc; importing this package registers every table on `Base.metadata`."""

from notify_svc.models.base import Base
from notify_svc.models.event import ProcessedEvent
from notify_svc.models.job import (
    FailedNotification,
    Job,
    JobKind,
    JobStatus,
    JobType,
    SentEmail,
)
from notify_svc.models.reminder import Reminder

__all__ = [
    "Base",
    "FailedNotification",
    "Job",
    "JobKind",
    "JobStatus",
    "JobType",
    "ProcessedEvent",
    "Reminder",
    "SentEmail",
]
