"""The Alertmanager webhook receiver the alert scenario runs: real HTTP on loopback."""

from __future__ import annotations

import json
import time

import httpx

from taskhub_e2e.alert_receiver import MAX_BODY_BYTES, running_alert_receiver

NOTIFICATION = {
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "TaskSvcDown", "severity": "page"},
            "annotations": {"summary": "task-svc is down"},
        }
    ]
}


def test_the_alerts_of_a_notification_are_kept_and_found() -> None:
    since = time.monotonic()
    with running_alert_receiver(0, "/alerts") as receiver:
        assert httpx.post(receiver.url, content=json.dumps(NOTIFICATION)).status_code == 200
        notice = receiver.first(status="firing", since=since, alertname="TaskSvcDown")
        assert notice is not None
        assert notice.annotations == {"summary": "task-svc is down"}
        assert receiver.first(status="resolved", since=since) is None
        assert receiver.first(status="firing", since=since, alertname="Other") is None


def test_other_paths_garbage_and_oversized_bodies_are_refused() -> None:
    with running_alert_receiver(0, "/alerts") as receiver:
        base = receiver.url.removesuffix("/alerts")
        assert httpx.post(f"{base}/elsewhere", content=b"{}").status_code == 404
        assert httpx.get(f"{base}/alerts").status_code == 404
        assert httpx.post(f"{base}/alerts", content=b"not json").status_code == 400
        huge = b"x" * (MAX_BODY_BYTES + 1)
        assert httpx.post(f"{base}/alerts", content=huge).status_code == 404
        assert receiver.notices() == []
