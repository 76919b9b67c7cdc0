"""A tiny stand-in for a TaskHub gateway, for testing the suite's own machinery.

The suite's tests run the client, the plugin and the reports against it, so they need no
stack. It answers `/healthz` and `/{svc}/healthz` with `{"status": "ok"}`, anything else with the
404 envelope, echoes the client's X-Request-ID, and remembers what it received.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HEALTH_PATHS = frozenset({"/healthz", "/auth/healthz", "/tasks/healthz", "/notify/healthz"})


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class StubGateway:
    url: str
    received: list[Received] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def _answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.stub.received.append(
            Received(self.command, self.path, dict(self.headers.items()), body)
        )
        request_id = self.headers.get("X-Request-ID") or "generated-by-stub"
        payload: dict[str, object]
        if self.path in HEALTH_PATHS:
            status, payload = 200, {"status": "ok"}
        else:
            error = {"code": "NOT_FOUND", "message": "Not here.", "request_id": request_id}
            status, payload = 404, {"error": error}
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Request-ID", request_id)
        self.end_headers()
        self.wfile.write(data)

    # http.server dispatches on these names.
    do_GET = do_POST = do_PATCH = do_DELETE = _answer  # noqa: N815

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test output is about the suite, not the stub."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    stub: StubGateway


@contextmanager
def stub_gateway() -> Iterator[StubGateway]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.stub = StubGateway(url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.stub
    finally:
        server.shutdown()
        server.server_close()
