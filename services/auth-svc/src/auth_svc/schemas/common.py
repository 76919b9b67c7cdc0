"""Schema building blocks shared by auth-svc's request and response models."""

from __future__ import annotations

from pydantic import AfterValidator, BaseModel, ConfigDict


def _refuse_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL; refusing it here keeps it a 422 rather than a 500.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


NoNul = AfterValidator(_refuse_nul)


class InputModel(BaseModel):
    """Request bodies: unknown fields are an error (no mass assignment)."""

    model_config = ConfigDict(extra="forbid")


class Page[T](BaseModel):
    items: list[T]
    total: int
    page: int
    limit: int
