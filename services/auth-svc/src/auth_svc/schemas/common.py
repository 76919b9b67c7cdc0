"""Schema building blocks shared by auth-svc's request and response models."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from taskhub_common.pages import Page
from taskhub_common.text import NoNul, SafeText

__all__ = ["InputModel", "NoNul", "Page", "SafeText"]


class InputModel(BaseModel):
    """Request bodies: unknown fields are an error (no mass assignment)."""

    model_config = ConfigDict(extra="forbid")
