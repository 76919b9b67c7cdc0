"""Real HTTP servers on 127.0.0.1 standing in for what lies outside the code under test.

A test that needs "auth-svc", a webhook receiver, a collector or an upstream gives
`LoopbackServer` a responder (a function of the request) or a routing table of them,
and gets a real server on a free (or given) port, its URL, and every request it received:

    with LoopbackServer({"GET /jwks.json": lambda request: json_response(keys)}) as jwks:
        fetch(jwks.url + "/jwks.json")
        assert len(jwks.requests) == 1

Standard library only, so that the services' tests and the e2e suite can both use it
without pulling anything in.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

LOOPBACK_HOST = "127.0.0.1"


@dataclass(frozen=True)
class StubRequest:
    """One request as the server read it."""

    method: str
    # As sent, query included.
    path: str
    # Case-insensitive, as the server parsed them (`request.headers.get("x-request-id")`).
    headers: Message
    body: bytes
    # `HTTP/1.1` or `HTTP/1.0`: what the client spoke.
    version: str
    # The client's (host, port): requests with the same one came on one connection.
    client: tuple[str, int]
    # The client's socket, for a responder that watches whether the client hangs up.
    connection: socket.socket = field(repr=False, compare=False)

    @property
    def route(self) -> str:
        """The path without its query."""
        return urlsplit(self.path).path

    def query(self) -> dict[str, str]:
        """The query's parameters, the first value of each."""
        return {name: values[0] for name, values in parse_qs(urlsplit(self.path).query).items()}

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass(frozen=True)
class StubResponse:
    """What to answer. A `bytes` body gets a Content-Length; an iterable of chunks is
    streamed without one (the connection closes after it)."""

    status: int = 200
    body: bytes | Iterable[bytes] = b""
    headers: Mapping[str, str] = field(default_factory=dict)


def json_response(
    payload: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> StubResponse:
    content_type = {"Content-Type": "application/json"}
    return StubResponse(status, json.dumps(payload).encode(), {**content_type, **(headers or {})})


# A responder answers a request, or returns None to hang up without answering.
Responder = Callable[[StubRequest], StubResponse | None]
# "METHOD /path" -> responder; a path ending in `*` matches every path it starts.
Routes = Mapping[str, Responder]

NOT_FOUND = StubResponse(404, b'{"error": {"code": "NOT_FOUND", "message": "no such route"}}')


def route_to(routes: Routes) -> Responder:
    """A responder that dispatches on method and path; anything else is a 404."""

    def respond(request: StubRequest) -> StubResponse | None:
        for key, responder in routes.items():
            method, _, pattern = key.partition(" ")
            if method != request.method:
                continue
            if pattern == request.route or (
                pattern.endswith("*") and request.route.startswith(pattern[:-1])
            ):
                return responder(request)
        return NOT_FOUND

    return respond


class LoopbackServer:
    """A threaded HTTP server on 127.0.0.1 answering with `respond`; a context manager.

    `port=0` takes a free port. `keep_alive` speaks HTTP/1.1 with persistent connections
    (as services speak to nginx); otherwise each connection serves one request.
    `max_body_bytes` caps how much of a request body is read. `record=False` keeps no
    requests (a long-lived server that records on its own).
    """

    def __init__(
        self,
        respond: Responder | Routes,
        *,
        port: int = 0,
        keep_alive: bool = False,
        max_body_bytes: int | None = None,
        record: bool = True,
        poll_seconds: float = 0.05,
        name: str = "loopback-server",
    ) -> None:
        self.respond: Responder = route_to(respond) if isinstance(respond, Mapping) else respond
        self.requests: list[StubRequest] = []
        # Responders that raised: the client got a 500, the test can assert there are none.
        self.errors: list[BaseException] = []
        self.max_body_bytes = max_body_bytes
        self.record = record
        self._lock = threading.Lock()
        self._poll_seconds = poll_seconds
        self._server = _Server((LOOPBACK_HOST, port), _handler_class(keep_alive), self)
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)

    @property
    def host_port(self) -> str:
        return f"{LOOPBACK_HOST}:{self.port}"

    @property
    def url(self) -> str:
        """`http://127.0.0.1:<port>`, without a trailing slash."""
        return f"http://{self.host_port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def received(self, route: str | None = None) -> list[StubRequest]:
        """The requests so far (to `route` only, when given), in order of arrival."""
        with self._lock:
            return [r for r in self.requests if route is None or r.route == route]

    def _serve(self) -> None:
        self._server.serve_forever(self._poll_seconds)

    def _note(self, request: StubRequest) -> None:
        if self.record:
            with self._lock:
                self.requests.append(request)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        owner: LoopbackServer,
    ) -> None:
        self.owner = owner
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a client that gave up (a timeout test) is expected, and a responder's
        own failure is in `errors`."""


def _handler_class(keep_alive: bool) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

    return Handler


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests report what matters."""

    def _handle(self) -> None:
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        if owner.max_body_bytes is not None:
            length = min(length, owner.max_body_bytes)
        request = StubRequest(
            method=self.command,
            path=self.path,
            headers=self.headers,
            body=self.rfile.read(length) if length else b"",
            version=self.request_version,
            client=(str(self.client_address[0]), int(self.client_address[1])),
            connection=self.connection,
        )
        owner._note(request)
        try:
            response = owner.respond(request)
        except Exception as error:
            owner.errors.append(error)
            response = StubResponse(500, f"the stub failed: {error!r}".encode())
        if response is None:
            self.close_connection = True
            return
        # A client that hung up (a timeout test, a capped reader) is no failure of the stub.
        with contextlib.suppress(OSError):
            self._send(response)

    def _send(self, response: StubResponse) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if isinstance(response.body, bytes):
            if "content-length" not in {name.lower() for name in response.headers}:
                self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            # A HEAD answer has the headers of a GET, and no body (or keep-alive breaks).
            if self.command != "HEAD":
                self.wfile.write(response.body)
            return
        # A stream without a length ends when the connection does.
        self.send_header("Connection", "close")
        self.close_connection = True
        self.end_headers()
        for chunk in response.body:
            self.wfile.write(chunk)

    # http.server dispatches on these names.
    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _handle  # noqa: N815
