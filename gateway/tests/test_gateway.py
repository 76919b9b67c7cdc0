"""Gateway tests: render nginx.conf.template, run the real nginx in front of stub upstreams.

The stubs stand in for the three services: tiny HTTP servers that answer with what they
received (path, headers, body size) and, on request, a chosen status, size or delay.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from taskhub_common.loopback import LoopbackServer, StubRequest, StubResponse, json_response
from taskhub_stack.render import render_file

GATEWAY_DIR = Path(__file__).resolve().parents[1]
TEMPLATE = GATEWAY_DIR / "nginx.conf.template"
README = GATEWAY_DIR / "README.md"
PUBLIC_DIR = GATEWAY_DIR / "public"
PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")
GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{SPAN_ID}-01"
API_CSP = "frame-ancestors 'none'"
# The networks API.md allows to read /{svc}/metrics: loopback and RFC 1918.
PRIVATE_NETWORKS = "127.0.0.0/8 1; ::1 1; 10.0.0.0/8 1; 172.16.0.0/12 1; 192.168.0.0/16 1;"


# --- stub upstreams -------------------------------------------------------------------


class StubServer:
    """An echoing stand-in for one service; `arrived` is set when a slow request is in.

    It echoes the request as JSON. Query: reply_status=<code>, reply_size=<padding bytes>,
    reply_sleep=<seconds>, reply_cache=<Cache-Control>, reply_retry_after=<seconds>,
    reply_allow=<Allow>, reply_location=<Location>."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.arrived = threading.Event()
        # HTTP/1.1 keep-alive, as the services speak to nginx; nothing recorded (the echo
        # tells the test what arrived).
        self.server = LoopbackServer(self._echo, keep_alive=True, record=False, name=name)

    @property
    def address(self) -> str:
        return self.server.host_port

    def _echo(self, request: StubRequest) -> StubResponse:
        query = request.query()
        if "reply_sleep" in query:
            self.arrived.set()
            time.sleep(float(query["reply_sleep"]))
        echo = {
            "service": self.name,
            "method": request.method,
            "version": request.version,
            "path": request.path,
            "headers": {name.lower(): value for name, value in request.headers.items()},
            "body_length": len(request.body),
            "padding": "x" * int(query.get("reply_size", "0")),
        }
        # The services echo the request id too; the gateway must not send it twice.
        headers = {"X-Request-ID": request.headers.get("X-Request-ID", "none")}
        for parameter, header in REPLY_HEADERS.items():
            if parameter in query:
                headers[header] = query[parameter]
        return json_response(echo, int(query.get("reply_status", "200")), headers)


REPLY_HEADERS = {
    "reply_cache": "Cache-Control",
    "reply_retry_after": "Retry-After",
    "reply_allow": "Allow",
    "reply_location": "Location",
}


@dataclass
class Stubs:
    auth: StubServer
    tasks: StubServer
    notify: StubServer

    def all(self) -> tuple[StubServer, StubServer, StubServer]:
        return self.auth, self.tasks, self.notify


@pytest.fixture(scope="session")
def stubs() -> Iterator[Stubs]:
    servers = Stubs(StubServer("auth"), StubServer("tasks"), StubServer("notify"))
    with contextlib.ExitStack() as running:
        for stub in servers.all():
            running.enter_context(stub.server)
        yield servers


# --- rendering and running nginx ------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def nginx_binary() -> str:
    """nginx is a required system package: its absence is a failure, not a skip."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        pytest.fail("nginx is not installed; install the system package (apt-get install nginx)")
    return found


def render_values(workdir: Path, stubs: Stubs, **overrides: str) -> dict[str, str]:
    """The values the tests render with: the native stack's, in a throwaway folder."""
    values = {
        "TASKHUB_GATEWAY_LISTEN": f"127.0.0.1:{free_port()}",
        "TASKHUB_GATEWAY_STATUS_LISTEN": f"127.0.0.1:{free_port()}",
        "TASKHUB_GATEWAY_AUTH_UPSTREAM": stubs.auth.address,
        "TASKHUB_GATEWAY_TASKS_UPSTREAM": stubs.tasks.address,
        "TASKHUB_GATEWAY_NOTIFY_UPSTREAM": stubs.notify.address,
        "TASKHUB_GATEWAY_RESOLVER": "",
        "TASKHUB_GATEWAY_USER": "nobody nogroup",
        "TASKHUB_GATEWAY_WORKER_PROCESSES": "1",
        "TASKHUB_GATEWAY_PID_FILE": str(workdir / "nginx.pid"),
        "TASKHUB_GATEWAY_ERROR_LOG": str(workdir / "error.log"),
        "TASKHUB_GATEWAY_ACCESS_LOG": str(workdir / "access.log"),
        "TASKHUB_GATEWAY_TEMP_DIR": str(workdir / "tmp"),
        "TASKHUB_GATEWAY_PUBLIC_DIR": str(workdir / "public"),
        "TASKHUB_GATEWAY_RATE_LIMIT": "100r/s",
        "TASKHUB_GATEWAY_RATE_BURST": "200",
        "TASKHUB_GATEWAY_CONN_LIMIT": "128",
        "TASKHUB_GATEWAY_CLIENT_MAX_BODY_SIZE": "1m",
        "TASKHUB_GATEWAY_PROXY_TIMEOUT": "30s",
        "TASKHUB_GATEWAY_METRICS_ALLOW": PRIVATE_NETWORKS,
    }
    return values | overrides


def render(workdir: Path, values: Mapping[str, str]) -> Path:
    # nginx creates the temp subfolders, not the folder holding them.
    Path(values["TASKHUB_GATEWAY_TEMP_DIR"]).mkdir(parents=True, exist_ok=True)
    shutil.copytree(PUBLIC_DIR, values["TASKHUB_GATEWAY_PUBLIC_DIR"], dirs_exist_ok=True)
    return render_file(TEMPLATE, workdir / "nginx.conf", values)


def nginx_command(workdir: Path, conf: Path) -> list[str]:
    # -p/-e keep even the start-up messages out of the system's /var/log/nginx.
    return [nginx_binary(), "-p", str(workdir), "-e", str(workdir / "error.log"), "-c", str(conf)]


@dataclass
class Gateway:
    url: str
    workdir: Path
    process: subprocess.Popen[bytes]
    values: dict[str, str] = field(default_factory=dict)

    @property
    def access_log(self) -> Path:
        return Path(self.values["TASKHUB_GATEWAY_ACCESS_LOG"])

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_gateway(workdir: Path, values: dict[str, str]) -> Gateway:
    """Start nginx in the foreground and wait until it answers /healthz."""
    workdir.mkdir(parents=True, exist_ok=True)
    conf = render(workdir, values)
    process = subprocess.Popen(
        [*nginx_command(workdir, conf), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    gateway = Gateway(f"http://{values['TASKHUB_GATEWAY_LISTEN']}", workdir, process, values)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = (workdir / "error.log").read_text() if (workdir / "error.log").exists() else ""
            pytest.fail(f"nginx exited with {process.returncode}:\n{log}")
        try:
            if httpx.get(f"{gateway.url}/healthz", timeout=1).status_code == 200:
                return gateway
        except httpx.TransportError:
            time.sleep(0.02)
    gateway.stop()
    pytest.fail("nginx did not answer /healthz within 10 s")


@pytest.fixture(scope="session")
def workroot() -> Iterator[Path]:
    """A folder the `nobody` workers can reach (pytest's own tmp dirs are 0700)."""
    root = Path(tempfile.mkdtemp(prefix="taskhub-gateway-"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def gateway(workroot: Path, stubs: Stubs) -> Iterator[Gateway]:
    workdir = workroot / "default"
    running = start_gateway(workdir, render_values(workdir, stubs))
    yield running
    running.stop()


GatewayFactory = Callable[..., Gateway]


@pytest.fixture
def gateway_with(workroot: Path, stubs: Stubs) -> Iterator[GatewayFactory]:
    """Start a gateway rendered with some values changed; stopped after the test."""
    started: list[Gateway] = []

    def start(**overrides: str) -> Gateway:
        workdir = Path(tempfile.mkdtemp(prefix="variant-", dir=workroot))
        workdir.chmod(0o755)
        started.append(start_gateway(workdir, render_values(workdir, stubs, **overrides)))
        return started[-1]

    yield start
    for running in started:
        running.stop()


@pytest.fixture
def client(gateway: Gateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=10) as http:
        yield http


def assert_envelope(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert error["request_id"] == response.headers["x-request-id"]
    return error


def send_raw(gateway: Gateway, request: bytes) -> httpx.Response:
    """Send bytes no HTTP client would produce and parse nginx's answer by hand."""
    host, port = gateway.values["TASKHUB_GATEWAY_LISTEN"].split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(request)
        raw = b""
        while b"\r\n\r\n" not in raw and (chunk := sock.recv(65536)):
            raw += chunk
        head, _, body = raw.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        fields = (line.partition(": ") for line in header_lines)
        headers = httpx.Headers([(name, value) for name, _, value in fields])
        while len(body) < int(headers["content-length"]) and (chunk := sock.recv(65536)):
            body += chunk
    assert status_line.startswith("HTTP/1.1 ")
    return httpx.Response(int(status_line.split(" ")[1]), headers=headers, content=body)


def assert_security_headers(response: httpx.Response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["content-security-policy"] == API_CSP
    assert response.headers["cache-control"] == "no-store"
    assert len(response.headers.get_list("x-request-id")) == 1
    assert response.headers.get("server", "nginx") == "nginx"  # no version


# --- the config itself ----------------------------------------------------------------


def test_every_placeholder_is_documented() -> None:
    used = set(PLACEHOLDER.findall(TEMPLATE.read_text()))
    documented = set(re.findall(r"^\| `(TASKHUB_GATEWAY_[A-Z_]+)` \|", README.read_text(), re.M))
    assert used == documented


def test_nginx_accepts_the_rendered_config(workroot: Path, stubs: Stubs) -> None:
    workdir = workroot / "syntax"
    conf = render(workdir, render_values(workdir, stubs))
    result = subprocess.run(
        [*nginx_command(workdir, conf), "-t"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({}, id="native"),
        pytest.param(
            {
                "TASKHUB_GATEWAY_LISTEN": "80",
                "TASKHUB_GATEWAY_AUTH_UPSTREAM": "auth-svc:8000 resolve",
                "TASKHUB_GATEWAY_TASKS_UPSTREAM": "task-svc:8000 resolve",
                "TASKHUB_GATEWAY_NOTIFY_UPSTREAM": "notify-svc:8000 resolve",
                "TASKHUB_GATEWAY_RESOLVER": "resolver 127.0.0.11 valid=10s ipv6=off;",
            },
            id="compose",
        ),
    ],
)
def test_gixy_finds_nothing(workroot: Path, stubs: Stubs, overrides: dict[str, str]) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="gixy-", dir=workroot))
    conf = render(workdir, render_values(workdir, stubs, **overrides))
    result = subprocess.run(
        [sys.executable, "-m", "gixy", str(conf)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- routing --------------------------------------------------------------------------


def test_healthz_is_answered_by_nginx(client: httpx.Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"status": "ok"}
    assert_security_headers(response)
    assert client.head("/healthz").status_code == 200


def test_healthz_refuses_other_methods(client: httpx.Client) -> None:
    response = client.post("/healthz")
    assert_envelope(response, 405, "METHOD_NOT_ALLOWED")
    assert response.headers.get_list("allow") == ["GET, HEAD"]


@pytest.mark.parametrize(
    ("path", "service"),
    [
        ("/auth/anything/deeper?q=1", "auth"),
        ("/tasks", "tasks"),
        ("/tasks?status=done", "tasks"),
        ("/tasks/0b4f9d1e-1111-4222-8333-444455556666", "tasks"),
        ("/notify/jobs", "notify"),
    ],
)
def test_service_paths_are_proxied_unchanged(client: httpx.Client, path: str, service: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.json()["service"] == service
    assert response.json()["path"] == path
    assert_security_headers(response)


@pytest.mark.parametrize(
    "path",
    [
        *["/nope", "/", "/tasksx", "/auth", "/notify", "/x.html"],
        *["/internal/x", "/auth/internal/users", "/_gateway/error/400"],
    ],
)
def test_unrouted_paths_get_the_404_envelope(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    assert_envelope(response, 404, "NOT_FOUND")
    assert_security_headers(response)


def test_internal_cannot_be_reached_through_dot_segments(client: httpx.Client) -> None:
    response = client.get("/auth/%2e%2e/internal/users")
    assert_envelope(response, 404, "NOT_FOUND")


def test_upstream_errors_pass_through_untouched(client: httpx.Client) -> None:
    response = client.post("/tasks/x?reply_status=409")
    assert response.status_code == 409
    assert response.json()["service"] == "tasks"


API_METHODS = "GET, HEAD, POST, PATCH, DELETE, OPTIONS"


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/auth/x", API_METHODS),
        ("/tasks", API_METHODS),
        # nginx refuses TRACE before routing, so unrouted paths answer 405 too.
        ("/nope", API_METHODS),
        ("/healthz", "GET, HEAD"),
    ],
)
def test_trace_is_answered_with_the_405_envelope(
    client: httpx.Client, path: str, allowed: str
) -> None:
    response = client.request("TRACE", path)
    assert_envelope(response, 405, "METHOD_NOT_ALLOWED")
    assert response.headers.get_list("allow") == [allowed]
    assert_security_headers(response)


def test_a_service_405_keeps_its_own_allow(client: httpx.Client) -> None:
    response = client.delete("/tasks/x?reply_status=405&reply_allow=GET,%20PATCH")
    assert response.status_code == 405
    assert response.json()["service"] == "tasks"
    assert response.headers.get_list("allow") == ["GET, PATCH"]
    assert "allow" not in client.delete("/tasks/x?reply_status=405").headers


def test_too_long_uri_gets_the_414_envelope(client: httpx.Client) -> None:
    # Over large_client_header_buffers (8 KiB): nginx refuses the request line itself.
    response = client.get("/tasks/" + "a" * 10 * 1024)
    error = assert_envelope(response, 414, "VALIDATION_ERROR")
    assert error["message"] == "The request line is too long."
    assert_security_headers(response)


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"X-Big": "a" * 10 * 1024}, id="one-header-over-8k"),
        pytest.param({f"X-Part-{n}": "a" * 7 * 1024 for n in range(5)}, id="all-over-32k"),
    ],
)
def test_too_large_headers_get_the_431_envelope(
    client: httpx.Client, headers: dict[str, str]
) -> None:
    response = client.get("/auth/x", headers=headers)
    error = assert_envelope(response, 431, "VALIDATION_ERROR")
    assert error["message"] == "The request headers are too large."
    assert_security_headers(response)


@pytest.mark.parametrize(
    ("request_bytes", "status", "message"),
    [
        pytest.param(
            b"GET /auth/x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            400,
            "The request is malformed.",
            id="duplicate-host",
        ),
        # Nothing of the request line is usable, so there is no URI to keep.
        pytest.param(b"GARBAGE\r\n\r\n", 400, "The request is malformed.", id="no-request-line"),
        pytest.param(
            b"GET /auth/../../x HTTP/1.1\r\nHost: a\r\n\r\n",
            400,
            "The request is malformed.",
            id="path-above-root",
        ),
        pytest.param(
            b"POST /auth/x HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n",
            400,
            "The request is malformed.",
            id="bad-content-length",
        ),
        pytest.param(
            b"GET /auth/x HTTP/2.0\r\nHost: a\r\n\r\n",
            505,
            "The HTTP version is not supported.",
            id="http-2-request-line",
        ),
        pytest.param(
            b"POST /auth/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
            501,
            "The Transfer-Encoding is not supported.",
            id="unknown-transfer-encoding",
        ),
    ],
)
def test_malformed_requests_get_the_envelope(
    gateway: Gateway, request_bytes: bytes, status: int, message: str
) -> None:
    response = send_raw(gateway, request_bytes)
    error = assert_envelope(response, status, "VALIDATION_ERROR")
    assert error["message"] == message
    assert_security_headers(response)


# --- headers to and from the services -------------------------------------------------


def test_sane_request_id_is_kept_everywhere(client: httpx.Client) -> None:
    response = client.get("/auth/x", headers={"X-Request-ID": "client-id_1.2"})
    assert response.headers["x-request-id"] == "client-id_1.2"
    assert response.json()["headers"]["x-request-id"] == "client-id_1.2"
    error = client.get("/nope", headers={"X-Request-ID": "client-id_1.2"}).json()["error"]
    assert error["request_id"] == "client-id_1.2"


@pytest.mark.parametrize(
    "sent", [None, b"has spaces", b'quote"injection', b"x" * 129, b"", "naïve".encode()]
)
def test_other_request_ids_are_replaced(client: httpx.Client, sent: bytes | None) -> None:
    headers: dict[bytes, bytes] = {} if sent is None else {b"X-Request-ID": sent}
    response = client.get("/auth/x", headers=headers)
    generated = response.headers["x-request-id"]
    assert GENERATED_ID.match(generated)
    assert response.json()["headers"]["x-request-id"] == generated
    assert_envelope(client.get("/nope", headers=headers), 404, "NOT_FOUND")


def test_forwarding_headers_are_overwritten_not_appended(client: httpx.Client) -> None:
    sent = {
        "X-Forwarded-For": "203.0.113.9",
        "X-Real-IP": "203.0.113.9",
        "Forwarded": "for=203.0.113.9",
        "X-Internal-Token": "stolen",
    }
    seen = client.get("/auth/x", headers=sent).json()["headers"]
    assert seen["x-forwarded-for"] == "127.0.0.1"
    assert seen["x-real-ip"] == "127.0.0.1"
    assert seen["x-forwarded-proto"] == "http"
    assert seen["host"] == urlsplit(str(client.base_url)).netloc  # with the port
    assert "forwarded" not in seen
    assert "x-internal-token" not in seen


def test_upstream_connections_are_kept_alive(client: httpx.Client) -> None:
    echo = client.get("/tasks").json()
    assert echo["version"] == "HTTP/1.1"
    assert "connection" not in echo["headers"]  # no "close": the connection is reused


def test_trace_context_is_passed_through(client: httpx.Client) -> None:
    sent = {"traceparent": TRACEPARENT, "tracestate": "vendor=value"}
    seen = client.get("/notify/jobs", headers=sent).json()["headers"]
    assert seen["traceparent"] == TRACEPARENT
    assert seen["tracestate"] == "vendor=value"


def test_docs_get_a_csp_that_lets_swagger_ui_load(client: httpx.Client) -> None:
    response = client.get("/auth/docs")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self' 'unsafe-inline';" in csp
    assert "https:" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"


def test_the_merged_api_description_is_served_by_nginx(client: httpx.Client) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == json.loads((PUBLIC_DIR / "openapi.json").read_text())
    assert response.json()["servers"][0]["url"] == "/"


def test_the_gateway_docs_page_shows_it_with_local_assets(client: httpx.Client) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "/openapi.json" in response.text
    assert "/auth/docs/static/swagger-ui-bundle.js" in response.text
    assert "https:" not in response.headers["content-security-policy"]
    assert "script-src 'self' 'unsafe-inline';" in response.headers["content-security-policy"]


@pytest.mark.parametrize("path", ["/openapi.json", "/docs"])
def test_the_gateway_files_refuse_writes(client: httpx.Client, path: str) -> None:
    response = client.post(path, content=b"{}")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"
    assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


def test_a_service_cache_control_is_kept(client: httpx.Client) -> None:
    response = client.get("/auth/.well-known/jwks.json?reply_cache=public,%20max-age=300")
    assert response.headers.get_list("cache-control") == ["public, max-age=300"]


def test_large_json_is_gzipped(client: httpx.Client) -> None:
    # Via marks a request that came through a client-side proxy; those get gzip too.
    headers = {"Accept-Encoding": "gzip", "Via": "1.1 office-proxy"}
    response = client.get("/tasks?reply_size=20000", headers=headers)
    assert response.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in response.headers["vary"]
    assert len(response.json()["padding"]) == 20000


def test_small_bodies_are_not_gzipped(client: httpx.Client) -> None:
    response = client.get("/healthz", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in response.headers


def test_gzip_body_is_valid(gateway: Gateway) -> None:
    # httpx decodes transparently; read the raw bytes once to prove they are real gzip.
    with httpx.stream(
        "GET", f"{gateway.url}/auth/x?reply_size=5000", headers={"Accept-Encoding": "gzip"}
    ) as response:
        raw = b"".join(response.iter_raw())
    assert json.loads(gzip.decompress(raw))["service"] == "auth"


# --- redirects ------------------------------------------------------------------------

# A path under every location the gateway proxies, as a trailing-slash redirect sees it.
PROXIED_PATHS = [
    "/auth/login/",
    "/auth/metrics/",
    "/tasks",
    "/tasks/",
    "/tasks/x/",
    "/notify/jobs/",
]
# A Location a service may build from the client's Host (Starlette's redirect_slashes does)
# or that a hostile path could smuggle in, and the path the client must get instead.
HOSTILE_LOCATIONS = [
    ("http://evil.example/tasks/x", "/tasks/x"),
    ("http://evil.example:58080/auth/login?next=1", "/auth/login?next=1"),
    ("HTTPS://evil.example/notify/jobs", "/notify/jobs"),
    ("http://evil.example", "/"),
    ("http://evil.example?x=1", "/?x=1"),
    ("http://evil.example//evil.example/x", "/evil.example/x"),
    ("//evil.example/tasks", "/tasks"),
    ("///evil.example/tasks", "/tasks"),
    ("/\\evil.example/tasks", "/tasks"),
    ("http:\\\\evil.example\\tasks", "/tasks"),
    ("javascript:alert(1)", "/"),
    ("/tasks/x", "/tasks/x"),
]


@pytest.mark.parametrize("path", PROXIED_PATHS)
@pytest.mark.parametrize(("sent", "expected"), HOSTILE_LOCATIONS)
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_service_redirects_never_name_a_host(
    client: httpx.Client, path: str, sent: str, expected: str, status: int
) -> None:
    response = client.get(
        path,
        params={"reply_status": str(status), "reply_location": sent},
        headers={"Host": "evil.example"},
    )
    assert response.status_code == status
    assert response.headers["location"] == expected


@pytest.mark.parametrize(
    "path", ["/auth", "/notify", "/", "/healthz/", "/internal", "/auth/internal/", "/x.html/"]
)
def test_paths_nginx_answers_itself_are_never_redirected(client: httpx.Client, path: str) -> None:
    response = client.get(path, headers={"Host": "evil.example"})
    assert not response.is_redirect
    assert "location" not in response.headers


def test_nginx_redirects_are_relative() -> None:
    # nginx adds a slash by redirect to a prefix location that ends in one; with
    # absolute_redirect on, that Location would carry the client's Host.
    assert re.search(r"^\s*absolute_redirect off;", TEMPLATE.read_text(), re.M)


# --- bodies ---------------------------------------------------------------------------


def test_body_over_the_limit_gets_the_413_envelope(client: httpx.Client) -> None:
    response = client.post("/auth/register", content=b"x" * (2 * 1024 * 1024))
    assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")
    assert_security_headers(response)


def test_body_under_the_limit_reaches_the_service(client: httpx.Client) -> None:
    # Bigger than nginx's in-memory body buffer, so it goes through the temp folder,
    # which the unprivileged workers must be able to write.
    response = client.post("/tasks", content=b"x" * (512 * 1024))
    assert response.status_code == 200
    assert response.json()["body_length"] == 512 * 1024


# --- metrics allowlist ----------------------------------------------------------------


@pytest.mark.parametrize("service", ["auth", "tasks", "notify"])
def test_metrics_are_served_to_loopback(client: httpx.Client, service: str) -> None:
    response = client.get(f"/{service}/metrics")
    assert response.status_code == 200
    assert response.json()["path"] == f"/{service}/metrics"


def test_metrics_are_forbidden_outside_the_allowlist(gateway_with: GatewayFactory) -> None:
    gateway = gateway_with(TASKHUB_GATEWAY_METRICS_ALLOW="192.0.2.0/24 1;")
    for path in ["/tasks/metrics", "/auth/metrics/", "/notify/metrics?x=1"]:
        response = httpx.get(f"{gateway.url}{path}")
        assert_envelope(response, 403, "FORBIDDEN")
        assert_security_headers(response)
    assert httpx.get(f"{gateway.url}/tasks/other").status_code == 200


def test_stub_status_is_served_on_its_own_listener_only(gateway: Gateway) -> None:
    status_url = f"http://{gateway.values['TASKHUB_GATEWAY_STATUS_LISTEN']}"
    response = httpx.get(f"{status_url}/stub_status")
    assert response.status_code == 200
    assert response.text.startswith("Active connections:")
    assert httpx.get(f"{status_url}/healthz").status_code == 404
    # Never on the public listener.
    assert httpx.get(f"{gateway.url}/stub_status").status_code == 404


# --- upstream failures ----------------------------------------------------------------


def test_unreachable_upstream_gets_the_502_envelope(gateway_with: GatewayFactory) -> None:
    gateway = gateway_with(TASKHUB_GATEWAY_NOTIFY_UPSTREAM=f"127.0.0.1:{free_port()}")
    response = httpx.get(f"{gateway.url}/notify/jobs")
    assert_envelope(response, 502, "BAD_GATEWAY")
    assert_security_headers(response)


def test_slow_upstream_gets_the_504_envelope(gateway_with: GatewayFactory) -> None:
    gateway = gateway_with(TASKHUB_GATEWAY_PROXY_TIMEOUT="1s")
    response = httpx.get(f"{gateway.url}/auth/slow?reply_sleep=1.5", timeout=10)
    assert_envelope(response, 504, "GATEWAY_TIMEOUT")


# --- rate limits ----------------------------------------------------------------------


def test_request_rate_limit_gets_the_429_envelope(gateway_with: GatewayFactory) -> None:
    gateway = gateway_with(TASKHUB_GATEWAY_RATE_LIMIT="1r/m", TASKHUB_GATEWAY_RATE_BURST="1")
    # One request for this minute, one from the burst; /healthz is answered before
    # limit_req runs, so the readiness probe spent nothing.
    assert [httpx.get(f"{gateway.url}/tasks").status_code for _ in range(2)] == [200, 200]
    response = httpx.get(f"{gateway.url}/tasks")
    assert_envelope(response, 429, "RATE_LIMITED")
    assert response.headers["retry-after"] == "1"
    assert_security_headers(response)


def test_a_service_429_keeps_its_own_retry_after(client: httpx.Client) -> None:
    response = client.get("/tasks?reply_status=429&reply_retry_after=30")
    assert response.status_code == 429
    assert response.headers.get_list("retry-after") == ["30"]
    assert "retry-after" not in client.get("/tasks?reply_status=429").headers


def test_connection_limit_gets_the_429_envelope(gateway_with: GatewayFactory, stubs: Stubs) -> None:
    gateway = gateway_with(TASKHUB_GATEWAY_CONN_LIMIT="1")
    stubs.auth.arrived.clear()
    slow = threading.Thread(target=httpx.get, args=(f"{gateway.url}/auth/slow?reply_sleep=0.5",))
    slow.start()
    try:
        assert stubs.auth.arrived.wait(timeout=5)
        response = httpx.get(f"{gateway.url}/auth/x")
        assert_envelope(response, 429, "RATE_LIMITED")
        assert response.headers["retry-after"] == "1"
    finally:
        slow.join()


# --- access log -----------------------------------------------------------------------


def read_log_line(log: Path, request_id: str) -> dict[str, Any]:
    """nginx writes the line after answering, so give it a moment to appear."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for line in log.read_text().splitlines():
            entry: dict[str, Any] = json.loads(line)
            if entry["request_id"] == request_id:
                return entry
        time.sleep(0.02)
    pytest.fail(f"no access log line for {request_id}")


def test_access_log_is_one_json_object_per_line(gateway: Gateway, client: httpx.Client) -> None:
    request_id = f"log-test-{os.getpid()}"
    client.get(
        "/auth/login?email=alice@example.com",
        headers={"X-Request-ID": request_id, "traceparent": TRACEPARENT},
    )
    entry = read_log_line(gateway.access_log, request_id)
    assert entry["service"] == "gateway"
    assert entry["level"] == "info"
    assert entry["trace_id"] == TRACE_ID
    assert entry["span_id"] == SPAN_ID
    assert entry["status"] == 200
    assert entry["method"] == "GET"
    assert entry["path"] == "/auth/login"
    assert entry["msg"] == "GET /auth/login 200"
    assert entry["remote_addr"] == "127.0.0.1"
    assert isinstance(entry["duration"], float)
    assert entry["bytes"] > 0
    assert "alice" not in json.dumps(entry)


def test_a_malformed_request_is_logged_as_sent(gateway: Gateway) -> None:
    # Its error page is served by URI, which must not replace the method and path logged.
    request_id = f"bad-length-{os.getpid()}"
    response = send_raw(
        gateway,
        b"POST /tasks/x?email=alice@example.com HTTP/1.1\r\nHost: a\r\n"
        + f"X-Request-ID: {request_id}\r\nContent-Length: abc\r\n\r\n".encode(),
    )
    assert response.status_code == 400
    entry = read_log_line(gateway.access_log, request_id)
    assert (entry["method"], entry["path"], entry["status"]) == ("POST", "/tasks/x", 400)
    assert entry["msg"] == "POST /tasks/x 400"


def test_the_gateway_starts_a_trace_when_the_client_sent_none(
    gateway: Gateway, client: httpx.Client
) -> None:
    request_id = f"no-trace-{os.getpid()}"
    response = client.get(
        "/notify/jobs", headers={"X-Request-ID": request_id, "traceparent": "garbage"}
    )
    sent_upstream = response.json()["headers"]["traceparent"]
    version, trace_id, span_id, flags = sent_upstream.split("-")
    assert (version, flags) == ("00", "01")
    assert len(trace_id) == 32
    assert len(span_id) == 16
    entry = read_log_line(gateway.access_log, request_id)
    assert entry["trace_id"] == trace_id
    assert entry["span_id"] == span_id
