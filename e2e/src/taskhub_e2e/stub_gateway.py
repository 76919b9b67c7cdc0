"""A tiny stand-in for a TaskHub gateway, for testing the suite's own machinery.

The suite's tests run the client, the plugin and the reports against it, so they need no
stack. It answers `/healthz` and `/{svc}/healthz` with `{"status": "ok"}`, anything else with the
404 envelope, echoes the client's X-Request-ID, and remembers what it received.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from taskhub_common.loopback import LoopbackServer, StubRequest, StubResponse, json_response

HEALTH_PATHS = frozenset({"/healthz", "/auth/healthz", "/tasks/healthz", "/notify/healthz"})


@dataclass
class StubGateway:
    server: LoopbackServer

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def received(self) -> list[StubRequest]:
        """Every request so far, in order (method, path, headers, body)."""
        return self.server.received()


def _answer(request: StubRequest) -> StubResponse:
    request_id = request.headers.get("X-Request-ID") or "generated-by-stub"
    if request.path in HEALTH_PATHS:
        return json_response({"status": "ok"}, 200, {"X-Request-ID": request_id})
    error = {"code": "NOT_FOUND", "message": "Not here.", "request_id": request_id}
    return json_response({"error": error}, 404, {"X-Request-ID": request_id})


@contextmanager
def stub_gateway() -> Iterator[StubGateway]:
    # Keep-alive, as the real gateway speaks.
    with LoopbackServer(_answer, keep_alive=True, name="stub-gateway") as server:
        yield StubGateway(server)
