"""Rendered task list pages, kept in the process and checked against the list's version.

Listing is the hottest read and the most expensive one: PostgreSQL renders a page of
tasks with their tags and the total count. A page is kept under (user, version of the
user's list, query); every write bumps the versions of the lists it changes in its own
transaction (`repositories.tasks.bump_list_versions`), so a request first reads the
version (one primary-key lookup) and a kept page is served only when nothing it shows
has changed since. Nothing here can serve stale data: a page and its version are read
in one snapshot, and a version never repeats.

Admins' lists (every task) are not kept: one version for all writes would make every
write in the system contend on one row.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Hashable

from prometheus_client import Counter

from task_svc.schemas.tasks import TaskListQuery

LIST_CACHE_LOOKUPS = Counter(
    "taskhub_task_list_cache_lookups",
    "Task list requests by whether a kept page answered them (hit), one had to be "
    "rendered (miss), or the caller's lists are never kept (bypass: admins).",
    ["result"],
)
_HITS, _MISSES, _BYPASSES = (LIST_CACHE_LOOKUPS.labels(r) for r in ("hit", "miss", "bypass"))

CacheKey = tuple[uuid.UUID, int, Hashable]


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
    """Least recently used pages first out, within `max_bytes` of page text (0: off)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._pages: OrderedDict[CacheKey, bytes] = OrderedDict()
        self._bytes = 0

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    def get(self, key: CacheKey) -> bytes | None:
        page = self._pages.get(key)
        if page is None:
            _MISSES.inc()
            return None
        self._pages.move_to_end(key)
        _HITS.inc()
        return page

    def put(self, key: CacheKey, page: bytes) -> None:
        if len(page) > self.max_bytes:
            return
        previous = self._pages.pop(key, None)
        if previous is not None:
            self._bytes -= len(previous)
        self._pages[key] = page
        self._bytes += len(page)
        while self._bytes > self.max_bytes:
            _, evicted = self._pages.popitem(last=False)
            self._bytes -= len(evicted)

    @staticmethod
    def bypassed() -> None:
        _BYPASSES.inc()

    def __len__(self) -> int:
        return len(self._pages)

    @property
    def size_bytes(self) -> int:
        return self._bytes
