"""The page every list endpoint answers with: `{items, total, page, limit}`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from pydantic import BaseModel

# Query parameters of a paged list: a 1-based page number (bounded, so OFFSET stays sane)
# and a page size.
PageNumber = Annotated[int, Query(ge=1, le=1_000_000, description="1-based page number.")]
PageSize = Annotated[int, Query(ge=1, le=100, description="Items per page (at most 100).")]


# A service names its pages by subclassing (`class TaskPage(Page[TaskRead])`), so the API
# description and the generated client keep readable names instead of `Page_TaskRead_`.
class Page[T](BaseModel):
    items: list[T]
    total: int
    page: int
    limit: int
