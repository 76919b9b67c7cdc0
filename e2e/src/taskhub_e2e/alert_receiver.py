"""An Alertmanager webhook receiver on loopback: records every notification it is sent.

Natively Alertmanager posts to `http://127.0.0.1:<TASKHUB_ALERT_RECEIVER_PORT>/alerts`
(stack/alerting.py); the alert scenario runs this receiver there for its duration.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

RECEIVER_HOST = "127.0.0.1"
MAX_BODY_BYTES = 1024 * 1024


@dataclass(frozen=True)
class AlertNotice:
    """One alert of one notification: `status` is `firing` or `resolved`."""

    received_at: float
    status: str
    labels: dict[str, str]
    annotations: dict[str, str]


class AlertReceiver:
    """Answers every POST with 200 and keeps the alerts of each notification, in order."""

    def __init__(self, port: int, path: str) -> None:
        self.path = path
        self._notices: list[AlertNotice] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((RECEIVER_HOST, port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="alert-receiver", daemon=True
        )

    def notices(self) -> list[AlertNotice]:
        with self._lock:
            return list(self._notices)

    def first(self, *, status: str, since: float, **labels: str) -> AlertNotice | None:
        """The first alert with `status` and every label of `labels`, received after `since`."""
        for notice in self.notices():
            if (
                notice.received_at >= since
                and notice.status == status
                and all(notice.labels.get(key) == value for key, value in labels.items())
            ):
                return notice
        return None

    def _record(self, payload: dict[str, Any]) -> None:
        now = time.monotonic()
        notices = [
            AlertNotice(
                received_at=now,
                status=str(alert.get("status", "")),
                labels={str(k): str(v) for k, v in alert.get("labels", {}).items()},
                annotations={str(k): str(v) for k, v in alert.get("annotations", {}).items()},
            )
            for alert in payload.get("alerts", [])
        ]
        with self._lock:
            self._notices.extend(notices)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if self.path != receiver.path or length > MAX_BODY_BYTES:
                    self.send_response(404)
                    self.end_headers()
                    return
                try:
                    payload = json.loads(self.rfile.read(length))
                except ValueError:
                    self.send_response(400)
                    self.end_headers()
                    return
                receiver._record(payload)
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the scenario reports what it received."""

        return Handler

    def start(self) -> AlertReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@contextmanager
def running_alert_receiver(port: int, path: str) -> Iterator[AlertReceiver]:
    receiver = AlertReceiver(port, path).start()
    try:
        yield receiver
    finally:
        receiver.stop()
