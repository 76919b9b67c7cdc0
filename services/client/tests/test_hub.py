"""The session layer: envelope errors, Retry-After, pages and credentials.

The answers are scripted at the HTTP level in the shapes TaskHub sends (the e2e smoke
scenarios drive the same client against the real services).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from taskhub_client import AsyncTaskHub, TaskHub, TaskHubError
from taskhub_client.generated.api.auth import auth_me
from taskhub_client.generated.api.tasks import tasks_delete, tasks_get, tasks_list
from taskhub_client.hub import retry_after_seconds

Handler = Callable[[httpx.Request], httpx.Response]
TASK_ID = uuid.UUID("0b5f7c1e-8f3e-4c39-9d0a-3c3d8d1f2a10")


def _task(number: int) -> dict[str, Any]:
    return {
        "id": str(uuid.UUID(int=number)),
        "owner_id": str(TASK_ID),
        "title": f"task {number}",
        "description": None,
        "status": "todo",
        "priority": "normal",
        "due_at": None,
        "tags": [],
        "assignee_id": None,
        "webhook_url": None,
        "created_at": "2026-12-04T10:00:00Z",
        "updated_at": "2026-12-04T10:00:00Z",
    }


def _envelope(status: int, code: str, message: str, **headers: str) -> httpx.Response:
    body = {"error": {"code": code, "message": message, "request_id": "req-1"}}
    return httpx.Response(status, json=body, headers=headers)


class Script:
    """Answers requests in order, recording them; sleeps are recorded, never slept."""

    def __init__(self, *answers: httpx.Response | Handler) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []
        self.slept: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        return answer if isinstance(answer, httpx.Response) else answer(request)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    async def async_sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    def hub(self, **options: Any) -> TaskHub:
        transport = httpx.MockTransport(self)
        return TaskHub("http://taskhub.test", transport=transport, sleep=self.sleep, **options)

    def async_hub(self, **options: Any) -> AsyncTaskHub:
        transport = httpx.MockTransport(self)
        return AsyncTaskHub(
            "http://taskhub.test", transport=transport, sleep=self.async_sleep, **options
        )


def test_a_success_is_the_parsed_model() -> None:
    script = Script(httpx.Response(200, json=_task(7)))
    with script.hub(token="abc") as hub:
        task = hub.call(tasks_get.sync_detailed, TASK_ID)
    assert task.title == "task 7"
    assert script.requests[0].url.path == f"/tasks/{TASK_ID}"
    assert script.requests[0].headers["authorization"] == "Bearer abc"


def test_a_body_less_success_is_none() -> None:
    script = Script(httpx.Response(204))
    with script.hub() as hub:
        assert hub.call(tasks_delete.sync_detailed, TASK_ID) is None


def test_the_error_envelope_is_raised_as_taskhub_error() -> None:
    script = Script(_envelope(404, "NOT_FOUND", "Task not found."))
    with script.hub() as hub, pytest.raises(TaskHubError) as raised:
        hub.call(tasks_get.sync_detailed, TASK_ID)
    error = raised.value
    assert (error.status, error.code, error.message) == (404, "NOT_FOUND", "Task not found.")
    assert error.request_id == "req-1"
    assert str(error) == "404 NOT_FOUND: Task not found."


def test_an_answer_without_the_envelope_is_still_an_error() -> None:
    script = Script(httpx.Response(502, text="Bad Gateway"))
    with script.hub() as hub, pytest.raises(TaskHubError) as raised:
        hub.call(auth_me.sync_detailed)
    assert (raised.value.status, raised.value.code) == (502, "HTTP_ERROR")
    assert raised.value.message == "Bad Gateway"


@pytest.mark.parametrize("status", [429, 503])
def test_without_retries_a_busy_answer_is_raised_with_its_retry_after(status: int) -> None:
    script = Script(_envelope(status, "RATE_LIMITED", "Slow down.", **{"Retry-After": "3"}))
    with script.hub() as hub, pytest.raises(TaskHubError) as raised:
        hub.call(tasks_get.sync_detailed, TASK_ID)
    assert raised.value.retry_after == 3.0
    assert script.slept == []


@pytest.mark.parametrize("status", [429, 503])
def test_retries_wait_the_retry_after_then_repeat(status: int) -> None:
    busy = _envelope(status, "RATE_LIMITED", "Slow down.", **{"Retry-After": "2"})
    script = Script(busy, busy, httpx.Response(200, json=_task(1)))
    with script.hub(retries=2) as hub:
        assert hub.call(tasks_get.sync_detailed, TASK_ID).title == "task 1"
    assert script.slept == [2.0, 2.0]
    assert len(script.requests) == 3


def test_retries_run_out_and_the_last_answer_is_raised() -> None:
    busy = _envelope(429, "RATE_LIMITED", "Slow down.", **{"Retry-After": "1"})
    script = Script(busy, busy)
    with script.hub(retries=1) as hub, pytest.raises(TaskHubError) as raised:
        hub.call(tasks_get.sync_detailed, TASK_ID)
    assert raised.value.status == 429
    assert script.slept == [1.0]


def test_a_retry_after_beyond_max_wait_is_raised_at_once() -> None:
    script = Script(_envelope(503, "UNAVAILABLE", "Later.", **{"Retry-After": "600"}))
    with script.hub(retries=5, max_wait=30) as hub, pytest.raises(TaskHubError):
        hub.call(tasks_get.sync_detailed, TASK_ID)
    assert script.slept == []


def test_a_busy_answer_without_retry_after_waits_a_second() -> None:
    script = Script(_envelope(503, "UNAVAILABLE", "Later."), httpx.Response(200, json=_task(2)))
    with script.hub(retries=1) as hub:
        hub.call(tasks_get.sync_detailed, TASK_ID)
    assert script.slept == [1.0]


def test_other_errors_are_never_retried() -> None:
    script = Script(_envelope(500, "INTERNAL_ERROR", "Oops.", **{"Retry-After": "1"}))
    with script.hub(retries=3) as hub, pytest.raises(TaskHubError):
        hub.call(tasks_get.sync_detailed, TASK_ID)
    assert script.slept == []


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 12, 4, 22, 0, 0, tzinfo=UTC)
    assert retry_after_seconds(" 5 ") == 5.0
    assert retry_after_seconds("Fri, 04 Dec 2026 22:00:30 GMT", now=now) == 30.0
    assert retry_after_seconds("Fri, 04 Dec 2026 21:00:00 GMT", now=now) == 0.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("-3") is None
    assert retry_after_seconds(None) is None


def _pages(total: int) -> Handler:
    def answer(request: httpx.Request) -> httpx.Response:
        page, limit = int(request.url.params["page"]), int(request.url.params["limit"])
        numbers = range((page - 1) * limit + 1, min(page * limit, total) + 1)
        items = [_task(n) for n in numbers]
        return httpx.Response(
            200, json={"items": items, "total": total, "page": page, "limit": limit}
        )

    return answer


def test_pages_walk_every_page_once() -> None:
    script = Script(*[_pages(5)] * 3)
    with script.hub() as hub:
        pages = list(hub.pages(tasks_list.sync_detailed, limit=2))
    assert [len(page.items) for page in pages] == [2, 2, 1]
    assert [task.title for page in pages for task in page.items] == [
        f"task {n}" for n in range(1, 6)
    ]
    assert [r.url.params["page"] for r in script.requests] == ["1", "2", "3"]


def test_pages_of_an_empty_list_ask_once() -> None:
    script = Script(_pages(0))
    with script.hub() as hub:
        assert list(hub.items(tasks_list.sync_detailed)) == []
    assert len(script.requests) == 1


def test_sign_in_sends_the_access_token_afterwards() -> None:
    tokens = {"access": "acc", "refresh": "ref", "expires_in": 900, "token_type": "bearer"}
    script = Script(httpx.Response(200, json=tokens), httpx.Response(200, json=_task(3)))
    with script.hub() as hub:
        assert hub.sign_in("ada@example.com", "correct horse").refresh == "ref"
        hub.call(tasks_get.sync_detailed, TASK_ID)
    login, read = script.requests
    assert "authorization" not in login.headers
    assert json.loads(login.content) == {"email": "ada@example.com", "password": "correct horse"}
    assert read.headers["authorization"] == "Bearer acc"


def test_an_api_key_replaces_the_token() -> None:
    script = Script(httpx.Response(200, json=_task(4)))
    with script.hub(token="acc") as hub:
        hub.use(api_key="thk_secret")
        hub.call(tasks_get.sync_detailed, TASK_ID)
    assert script.requests[0].headers["x-api-key"] == "thk_secret"
    assert "authorization" not in script.requests[0].headers


def test_a_token_and_a_key_together_are_refused() -> None:
    with pytest.raises(ValueError, match="not both"):
        TaskHub("http://taskhub.test", token="a", api_key="b")


async def test_the_async_session_retries_raises_and_pages() -> None:
    busy = _envelope(429, "RATE_LIMITED", "Slow down.", **{"Retry-After": "1"})
    tokens = {"access": "acc", "refresh": "ref", "expires_in": 900}
    script = Script(
        httpx.Response(200, json=tokens),
        busy,
        httpx.Response(200, json=_task(1)),
        _envelope(404, "NOT_FOUND", "Task not found."),
        *[_pages(3)] * 3,
    )
    async with script.async_hub(retries=1) as hub:
        await hub.sign_in("ada@example.com", "correct horse")
        assert (await hub.call(tasks_get.asyncio_detailed, TASK_ID)).title == "task 1"
        with pytest.raises(TaskHubError, match="NOT_FOUND"):
            await hub.call(tasks_get.asyncio_detailed, TASK_ID)
        titles = [task.title async for task in hub.items(tasks_list.asyncio_detailed, limit=2)]
        pages = [page.total async for page in hub.pages(tasks_list.asyncio_detailed, limit=3)]
        hub.use()
    assert pages == [3]
    assert titles == ["task 1", "task 2", "task 3"]
    assert script.slept == [1.0]
    assert script.requests[2].headers["authorization"] == "Bearer acc"
