"""ORM models of notify_svc; importing this package registers every table on `Base.metadata`."""

from notify_svc.models.base import Base

__all__ = ["Base"]
