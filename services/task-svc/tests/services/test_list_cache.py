"""The page cache on its own: least recently used pages go first, within a byte budget."""

from __future__ import annotations

import uuid

from task_svc.read_models.page_cache import KeptPage, ListPageCache, query_key
from task_svc.read_models.task_list import Freshness
from task_svc.schemas.tasks import TaskListQuery

USER = uuid.uuid4()
NOTHING_SHOWN = Freshness(list_version=1, status_version=0, shown_slots=(), shown_version=0)


def _page(text: bytes) -> KeptPage:
    return KeptPage(text, NOTHING_SHOWN)


def test_pages_beyond_the_byte_budget_push_out_the_least_recently_used() -> None:
    cache = ListPageCache(max_bytes=10)
    cache.put((USER, "a"), _page(b"aaaa"))
    cache.put((USER, "b"), _page(b"bbbb"))
    assert cache.find((USER, "a")) == _page(b"aaaa")  # "a" is now the most recently used
    cache.put((USER, "c"), _page(b"cccc"))
    assert cache.find((USER, "b")) is None
    assert cache.find((USER, "a")) == _page(b"aaaa")
    assert cache.find((USER, "c")) == _page(b"cccc")
    assert cache.size_bytes == 8
    assert len(cache) == 2


def test_the_tasks_a_page_shows_count_towards_the_budget() -> None:
    page = KeptPage(b"aaaa", Freshness(1, 0, shown_slots=(1, 5, 9), shown_version=3))
    cache = ListPageCache(max_bytes=page.size)
    cache.put((USER, "a"), page)
    assert cache.size_bytes == page.size > len(b"aaaa") + 3
    cache.put((USER, "b"), _page(b"b"))
    assert cache.find((USER, "a")) is None


def test_a_page_replaced_under_the_same_key_is_counted_once() -> None:
    cache = ListPageCache(max_bytes=10)
    cache.put((USER, "a"), _page(b"aaaa"))
    cache.put((USER, "a"), _page(b"aaaaaa"))
    assert cache.size_bytes == 6
    assert cache.find((USER, "a")) == _page(b"aaaaaa")


def test_a_page_larger_than_the_budget_is_not_kept() -> None:
    cache = ListPageCache(max_bytes=3)
    cache.put((USER, "a"), _page(b"aaaa"))
    assert len(cache) == 0
    assert not ListPageCache(max_bytes=0).enabled


def test_the_key_of_a_query_covers_every_filter_and_the_page() -> None:
    base = TaskListQuery()
    variants = [
        TaskListQuery(status=["done"]),
        TaskListQuery(tag=["x"]),
        TaskListQuery(assignee_id=uuid.uuid4()),
        TaskListQuery(due_before="2031-01-01T00:00:00Z"),
        TaskListQuery(due_after="2031-01-01T00:00:00Z"),
        TaskListQuery(page=2),
        TaskListQuery(limit=5),
    ]
    keys = {query_key(base), *(query_key(query) for query in variants)}
    assert len(keys) == 1 + len(variants)
    # Tags arrive normalized: the same set in any spelling is one page.
    assert query_key(TaskListQuery(tag=["B", "a"])) == query_key(TaskListQuery(tag=["a", "b"]))
