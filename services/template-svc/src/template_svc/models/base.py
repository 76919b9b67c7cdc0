"""Declarative base of template-svc's models (its own metadata: it owns its own database)."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from taskhub_common.db import make_metadata


class Base(DeclarativeBase):
    metadata = make_metadata()
