"""ORM models of template_svc; importing this package registers every table on `Base.metadata`."""

from template_svc.models.base import Base
from template_svc.models.note import Note

__all__ = ["Base", "Note"]
