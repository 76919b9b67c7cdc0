"""Rendered task list pages, kept in the process and served while still exact.

A page is kept under (user, query) with the `Freshness` it was rendered with (see
`read_models.task_list`); a request for it reads the current freshness (one statement:
a few index probes, or, for a page recently found out of date, the page's own statement,
which renders it only if it changed) and gets the kept page only when nothing it shows
has changed since.
Nothing here can serve stale data: a page and its freshness are read in one snapshot,
and every counter in it only grows.

Admins' lists (every task) are not kept: one version for all writes would make every
write in the system contend on one row.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

from prometheus_client import Counter

from task_svc.read_models.task_list import Freshness
from task_svc.schemas.tasks import TaskListQuery

LIST_CACHE_LOOKUPS = Counter(
    "taskhub_task_list_cache_lookups",
    "Task list requests by whether a kept page answered them (hit), one had to be "
    "rendered (miss: none kept, or the kept one was out of date), or the caller's lists "
    "are never kept (bypass: admins).",
    ["result"],
)
_HITS, _MISSES, _BYPASSES = (LIST_CACHE_LOOKUPS.labels(r) for r in ("hit", "miss", "bypass"))

CacheKey = tuple[uuid.UUID, Hashable]
# What a kept page costs besides its text, per slot of the tasks it shows.
_BYTES_PER_SHOWN_SLOT = 8
# A page that replaced one out of date will likely go out of date again soon (its reader,
# or someone sharing its tasks, is writing): it is checked inside the page's own statement
# until this many lookups have found it still exact (see `services.tasks`).
CHECKS_IN_RENDER_AFTER_CHANGE = 2


@dataclass(slots=True)
class KeptPage:
    document: bytes
    freshness: Freshness
    # While above 0, the page is checked inside a render of it: one round trip whether it
    # is out of date or not, where the separate check takes two for a page out of date.
    checks_in_render: int = 0

    @property
    def size(self) -> int:
        return len(self.document) + _BYTES_PER_SHOWN_SLOT * len(self.freshness.shown_slots)


def query_key(query: TaskListQuery) -> Hashable:
    """Everything in `query` that changes the page (tags come normalized and sorted)."""
    return (
        tuple(query.status),
        tuple(query.tag),
        query.assignee_id,
        query.due_before,
        query.due_after,
        query.page,
        query.limit,
    )


class ListPageCache:
    """Least recently used pages first out, within `max_bytes` (0: off)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._pages: OrderedDict[CacheKey, KeptPage] = OrderedDict()
        self._bytes = 0

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    def find(self, key: CacheKey) -> KeptPage | None:
        """The page kept under `key`, exact or not: the caller checks its freshness."""
        page = self._pages.get(key)
        if page is not None:
            self._pages.move_to_end(key)
        return page

    def put(self, key: CacheKey, page: KeptPage) -> None:
        if page.size > self.max_bytes:
            return
        previous = self._pages.pop(key, None)
        if previous is not None:
            self._bytes -= previous.size
        self._pages[key] = page
        self._bytes += page.size
        while self._bytes > self.max_bytes:
            _, evicted = self._pages.popitem(last=False)
            self._bytes -= evicted.size

    @staticmethod
    def served(*, kept: bool) -> None:
        """Count one request: answered by a kept page, or rendered."""
        (_HITS if kept else _MISSES).inc()

    @staticmethod
    def bypassed() -> None:
        _BYPASSES.inc()

    def __len__(self) -> int:
        return len(self._pages)

    @property
    def size_bytes(self) -> int:
        return self._bytes
