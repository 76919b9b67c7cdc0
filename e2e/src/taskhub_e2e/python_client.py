"""The scenarios speak through TaskHub's own Python client (taskhub-client) where they use the API.

The generated operations build each request and parse each answer; `RecordedTransport`
sends the request through the suite's `TaskHubClient`, so every exchange still gets its
request id and trace and lands in the scenario's log. `through_client` hands the raw
answer back to the steps, which check statuses and bodies as before; a documented success
the client cannot parse into its model fails the step (the description and the service
disagree).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, Self

import httpx

from taskhub_client import TaskHub
from taskhub_client.generated.models.error_response import ErrorResponse
from taskhub_client.generated.types import Response
from taskhub_e2e.client import TaskHubClient

# What the suite forwards of the generated client's headers (the rest are the suite's own).
FORWARDED_HEADERS = ("authorization", "content-type", "x-api-key", "idempotency-key")
# The body is already decoded by the suite's client; these would describe the wire form.
WIRE_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


class RecordedTransport(httpx.BaseTransport):
    """Sends each request of the generated client through the suite's recording client."""

    def __init__(self, api: TaskHubClient) -> None:
        self.api = api
        self.last: httpx.Response | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        answer = self.api.request(
            request.method,
            request.url.raw_path.decode("ascii"),
            content=request.read() or None,
            headers={
                name: value
                for name, value in request.headers.items()
                if name.lower() in FORWARDED_HEADERS
            },
        )
        self.last = answer
        headers = [(k, v) for k, v in answer.headers.items() if k.lower() not in WIRE_HEADERS]
        return httpx.Response(
            answer.status_code, headers=headers, content=answer.content, request=request
        )


def python_session(
    api: TaskHubClient, token: str | None = None
) -> tuple[TaskHub, RecordedTransport]:
    """A `TaskHub` session over the suite's client, signed in with `token` when given."""
    transport = RecordedTransport(api)
    return TaskHub(api.base_url, token=token, transport=transport), transport


class Model(Protocol):
    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self: ...


def through_client(
    api: TaskHubClient,
    token: str | None,
    operation: Callable[..., Response[Any]],
    *args: Any,
    body: tuple[type[Model], Mapping[str, Any]] | None = None,
    unexpressible: Callable[[], httpx.Response] | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """`operation` (a generated `sync_detailed`) with `body` given as (model, JSON fields).

    A body the client's model cannot hold (a step sending a wrong value on purpose) goes
    through `unexpressible`, the suite's raw request, instead.
    """
    hub, transport = python_session(api, token)
    with hub:
        if body is not None:
            model, fields = body
            try:
                kwargs["body"] = model.from_dict(dict(fields))
            except (KeyError, ValueError, TypeError):
                if unexpressible is None:
                    raise
                return unexpressible()
        answer = operation(*args, client=hub.api, **kwargs)
    assert transport.last is not None
    if answer.status_code < 300 and answer.content:
        unreadable = answer.parsed is None or isinstance(answer.parsed, ErrorResponse)
        assert not unreadable, (
            f"the client could not read the {answer.status_code} answer: {answer.content[:300]!r}"
        )
    return transport.last
