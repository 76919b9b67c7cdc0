"""ORM models of auth_svc; importing this package registers every table on `Base.metadata`."""

from auth_svc.models.base import Base

__all__ = ["Base"]
