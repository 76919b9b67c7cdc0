"""A webhook receiver on loopback: records what notify-svc delivers and checks its signature.

One receiver runs per test process (xdist worker) on a fixed port, so the deployment can
allowlist exactly those ports (`NOTIFY_WEBHOOK_ALLOWLIST`). Each scenario opens its own
inboxes on it, one URL path each, with a behaviour: answer at once, always fail, or hold
the first delivery for a while (to kill the worker meanwhile). Every delivery is recorded
with its headers, its raw body, whether its `X-TaskHub-Signature` is right, and whether
the receiver answered it at all (a sender that hung up was never answered).

It checks signatures as notify-svc's README tells receivers to: `verify_signature` below
is that documented function, copied verbatim (a test keeps the two identical). A delivery
whose signature is wrong or too old is refused with 401; one whose delivery id was
accepted before is answered as usual and marked a duplicate.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import select
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from taskhub_common.loopback import LOOPBACK_HOST, LoopbackServer, StubRequest, StubResponse
from taskhub_stack.ports import StackPorts

RECEIVER_HOST = LOOPBACK_HOST
# Worker `gwN` listens on FIRST_PORT + N (the serial run on FIRST_PORT); the deployment
# allowlists those ten addresses. The stack's `receivers` port (docs/conventions.md), moved
# by `TASKHUB_RECEIVERS_PORT` so that two checkouts can run their suites side by side.
FIRST_PORT = StackPorts.from_env().receivers
PORT_COUNT = 10
ALLOWLIST_VARIABLE = "NOTIFY_WEBHOOK_ALLOWLIST"
SECRET_VARIABLE = "NOTIFY_WEBHOOK_SIGNING_SECRET"
DELIVERY_HEADER = "X-TaskHub-Delivery"
SIGNATURE_HEADER = "X-TaskHub-Signature"
INBOX_PREFIX = "/hooks/"
MAX_BODY_BYTES = 1024 * 1024
# How often a held delivery checks whether the sender is still connected.
HOLD_POLL_SECONDS = 0.05


def receiver_port(worker: str) -> int | None:
    """The port of this test process's receiver: `gw3` -> FIRST_PORT + 3, a serial run ->
    FIRST_PORT."""
    if not worker or worker == "main":
        return FIRST_PORT
    index = worker.removeprefix("gw")
    if not index.isdigit() or int(index) >= PORT_COUNT:
        return None
    return FIRST_PORT + int(index)


def allowlist_value() -> str:
    """What the deployment's `NOTIFY_WEBHOOK_ALLOWLIST` must hold for the suite."""
    return ",".join(f"{RECEIVER_HOST}:{FIRST_PORT + n}" for n in range(PORT_COUNT))


def parse_allowlist(raw: str) -> set[str]:
    """`host:port,host:port` or a JSON list, as notify-svc reads it."""
    raw = raw.strip()
    entries = json.loads(raw) if raw.startswith("[") else raw.split(",")
    return {str(entry).strip().lower() for entry in entries if str(entry).strip()}


def receiver_usable(settings: Mapping[str, str], worker: str) -> tuple[bool, str]:
    """Whether notify-svc may call this process's receiver and the suite can check signatures."""
    port = receiver_port(worker)
    if port is None:
        return False, f"xdist worker {worker} has no receiver port (at most {PORT_COUNT} workers)"
    if ALLOWLIST_VARIABLE not in settings:
        return False, (
            f"the deployment's {ALLOWLIST_VARIABLE} is unknown; it must be {allowlist_value()}"
        )
    if f"{RECEIVER_HOST}:{port}" not in parse_allowlist(settings[ALLOWLIST_VARIABLE]):
        return False, f"{ALLOWLIST_VARIABLE} does not allow {RECEIVER_HOST}:{port}"
    if not settings.get(SECRET_VARIABLE):
        return False, f"the deployment's {SECRET_VARIABLE} is unknown (signatures unverifiable)"
    return True, ""


# How far a signature's timestamp may be from now (notify-svc's README: 5 minutes).
SIGNATURE_TOLERANCE_SECONDS = 300


def verify_signature(
    secret: bytes,
    header: str,
    delivery_id: str,
    body: bytes,
    *,
    tolerance_seconds: int = 300,
    now: float | None = None,
) -> bool:
    """True when `header` (X-TaskHub-Signature) signs this delivery id and raw body and
    its timestamp is at most `tolerance_seconds` away from now."""
    fields = [item.strip().split("=", 1) for item in header.split(",") if "=" in item]
    stamps = [value for name, value in fields if name == "t"]
    if len(stamps) != 1 or not (stamps[0].isascii() and stamps[0].isdigit()):
        return False
    timestamp = int(stamps[0])
    if abs((time.time() if now is None else now) - timestamp) > tolerance_seconds:
        return False
    signed = f"{timestamp}.{delivery_id}.".encode() + body
    expected = hmac.new(secret, signed, hashlib.sha256).hexdigest()
    return any(
        hmac.compare_digest(value.encode(), expected.encode())
        for name, value in fields
        if name == "v1"
    )


def sign(secret: bytes, *, timestamp: int, delivery_id: str, body: bytes) -> str:
    """An `X-TaskHub-Signature` value as notify-svc makes it (to forge or replay in tests)."""
    signed = f"{timestamp}.{delivery_id}.".encode() + body
    return f"t={timestamp},v1={hmac.new(secret, signed, hashlib.sha256).hexdigest()}"


def signed_at(header: str) -> int | None:
    """The `t=` of an `X-TaskHub-Signature` value, when it has one."""
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        if name == "t" and value.isascii() and value.isdigit():
            return int(value)
    return None


@dataclass(frozen=True)
class Behaviour:
    """How an inbox answers: `status`, after holding the first `hold_first` deliveries;
    signatures older than `tolerance_seconds` are refused."""

    status: int = 200
    hold_seconds: float = 0.0
    hold_first: int = 0
    tolerance_seconds: int = SIGNATURE_TOLERANCE_SECONDS


@dataclass(frozen=True)
class Delivery:
    received_at: float
    headers: dict[str, str]
    body: bytes
    signature_valid: bool
    # The status the receiver answered with, or None when the sender hung up first.
    answered: int | None
    # Its delivery id was accepted (answered 2xx) before: a receiver does not act on it.
    duplicate: bool = False

    @property
    def delivery_id(self) -> str | None:
        return self.headers.get(DELIVERY_HEADER.lower())

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Inbox:
    """One URL on the receiver and every delivery it got, in order of arrival."""

    url: str
    behaviour: Behaviour
    deliveries: list[Delivery] = field(default_factory=list)
    arrivals: int = 0
    accepted_ids: set[str] = field(default_factory=set)
    # Deliveries being held right now, and the most ever held at once (a sender's fairness).
    holding: int = 0
    peak_holding: int = 0
    changed: threading.Condition = field(default_factory=threading.Condition)

    def snapshot(self) -> list[Delivery]:
        with self.changed:
            return list(self.deliveries)

    def wait_for(self, count: int, seconds: float) -> list[Delivery]:
        """The deliveries once there are at least `count` (or whatever came by the deadline)."""
        deadline = time.monotonic() + seconds
        with self.changed:
            while len(self.deliveries) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.changed.wait(left)
            return list(self.deliveries)

    def wait_for_arrivals(self, count: int, seconds: float) -> bool:
        """Whether `count` requests have arrived (recorded or still being held) in time."""
        deadline = time.monotonic() + seconds
        with self.changed:
            while self.arrivals < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.changed.wait(left)
            return True


class WebhookReceiver:
    """A threaded HTTP server on loopback that routes `/hooks/<id>` to inboxes."""

    def __init__(self, port: int, secret: str) -> None:
        self.secret = secret.encode()
        self.inboxes: dict[str, Inbox] = {}
        self._lock = threading.Lock()
        # The inboxes record the deliveries, with what the receiver made of them.
        self._server = LoopbackServer(
            {"POST /*": self._deliver},
            port=port,
            max_body_bytes=MAX_BODY_BYTES,
            record=False,
            name="webhook-receiver",
        )
        self.port = self._server.port

    def start(self) -> WebhookReceiver:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def open_inbox(self, behaviour: Behaviour | None = None) -> Inbox:
        key = secrets.token_hex(8)
        inbox = Inbox(
            f"http://{RECEIVER_HOST}:{self.port}{INBOX_PREFIX}{key}", behaviour or Behaviour()
        )
        with self._lock:
            self.inboxes[key] = inbox
        return inbox

    def close_inbox(self, inbox: Inbox) -> None:
        with self._lock:
            self.inboxes.pop(inbox.url.rsplit("/", 1)[-1], None)

    def inbox_for(self, path: str) -> Inbox | None:
        if not path.startswith(INBOX_PREFIX):
            return None
        with self._lock:
            return self.inboxes.get(path.removeprefix(INBOX_PREFIX))

    def signature_ok(
        self,
        headers: Mapping[str, str],
        body: bytes,
        tolerance_seconds: int = SIGNATURE_TOLERANCE_SECONDS,
    ) -> bool:
        return verify_signature(
            self.secret,
            headers.get(SIGNATURE_HEADER.lower(), ""),
            headers.get(DELIVERY_HEADER.lower(), ""),
            body,
            tolerance_seconds=tolerance_seconds,
        )

    def _deliver(self, request: StubRequest) -> StubResponse | None:
        inbox = self.inbox_for(request.path)
        if inbox is None:
            return _answer(404)
        headers = {name.lower(): value for name, value in request.headers.items()}
        body = request.body
        with inbox.changed:
            inbox.arrivals += 1
            position = inbox.arrivals
            inbox.changed.notify_all()
        behaviour = inbox.behaviour
        valid = self.signature_ok(headers, body, behaviour.tolerance_seconds)
        answered: int | None = behaviour.status if valid else 401
        if valid and position <= behaviour.hold_first and not _held(inbox, request.connection):
            answered = None
        delivery_id = headers.get(DELIVERY_HEADER.lower(), "")
        # Recorded before the answer goes out: a sender that reads the inbox as soon as it
        # has its answer must find the delivery there.
        with inbox.changed:
            duplicate = delivery_id in inbox.accepted_ids
            if answered is not None and 200 <= answered < 300:
                inbox.accepted_ids.add(delivery_id)
            inbox.deliveries.append(
                Delivery(
                    received_at=time.time(),
                    headers=headers,
                    body=body,
                    signature_valid=valid,
                    answered=answered,
                    duplicate=duplicate,
                )
            )
            inbox.changed.notify_all()
        # None: the sender hung up while held, so nothing is answered.
        return None if answered is None else _answer(answered)


def _held(inbox: Inbox, connection: socket.socket) -> bool:
    """Hold the delivery as the inbox says, counting it among those held meanwhile."""
    with inbox.changed:
        inbox.holding += 1
        inbox.peak_holding = max(inbox.peak_holding, inbox.holding)
    try:
        return _hold(connection, inbox.behaviour.hold_seconds)
    finally:
        with inbox.changed:
            inbox.holding -= 1


def _hold(connection: socket.socket, seconds: float) -> bool:
    """Wait `seconds` before answering; False as soon as the sender hangs up."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        readable, _, _ = select.select([connection], [], [], HOLD_POLL_SECONDS)
        if readable:
            try:
                if not connection.recv(1, socket.MSG_PEEK):
                    return False
            except OSError:
                return False
    return True


def _answer(status: int) -> StubResponse:
    body = b'{"received": true}' if 200 <= status < 300 else b'{"error": "refused"}'
    return StubResponse(status, body, {"Content-Type": "application/json"})


@contextmanager
def running_receiver(port: int, secret: str) -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(port, secret).start()
    try:
        yield receiver
    finally:
        receiver.stop()
