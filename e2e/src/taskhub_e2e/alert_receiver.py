"""An Alertmanager webhook receiver on loopback: records every notification it is sent.

Natively Alertmanager posts to `http://127.0.0.1:<TASKHUB_ALERT_RECEIVER_PORT>/alerts`
(stack/alerting.py); the alert scenario runs this receiver there for its duration.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from taskhub_common.loopback import LoopbackServer, StubRequest, StubResponse

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
        # The notices are what the scenario reads; the requests themselves are not kept.
        self._server = LoopbackServer(
            {f"POST {path}": self._receive},
            port=port,
            max_body_bytes=MAX_BODY_BYTES,
            record=False,
            name="alert-receiver",
        )

    @property
    def url(self) -> str:
        """Where Alertmanager posts."""
        return f"{self._server.url}{self.path}"

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

    def _receive(self, request: StubRequest) -> StubResponse:
        if int(request.headers.get("Content-Length") or 0) > MAX_BODY_BYTES:
            return StubResponse(404)
        try:
            payload = request.json()
        except ValueError:
            return StubResponse(400)
        self._record(payload)
        return StubResponse(200)

    def start(self) -> AlertReceiver:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()


@contextmanager
def running_alert_receiver(port: int, path: str) -> Iterator[AlertReceiver]:
    receiver = AlertReceiver(port, path).start()
    try:
        yield receiver
    finally:
        receiver.stop()
