"""Steps of features/alerts.feature: an SLO alert reaches the on-call receiver and resolves.

Needs the native stack started with TASKHUB_ALERT_TIME_SCALE (scaled alert windows) and
Alertmanager posting to the suite's alert receiver (the native default); the scenario is
skipped, with the reason, when either is not so.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import httpx
import pytest
from pytest_bdd import given, parsers, then, when

from taskhub_e2e.alert_receiver import AlertNotice, AlertReceiver, running_alert_receiver
from taskhub_e2e.chaos import Chaos, wait_until
from taskhub_e2e.target import Target
from taskhub_stack.alerting import RECEIVER_PATH, TIME_SCALE_VARIABLE
from taskhub_stack.native import NativeStack

if TYPE_CHECKING:
    # Only the type: importing another step module at run time registers it twice.
    from taskhub_e2e.steps.outages import Outage

NOTIFY_PROGRAM = "notify-svc"
DELIVERY_ALERT = "TaskHubDeliveryBudgetBurn"
PAGE = "page"
# The page's `for:` is 2 minutes in the committed rules: shorter means scaled windows.
REAL_PAGE_FOR_SECONDS = 120.0
# A page still firing from an earlier outage has to end before this scenario's begins.
QUIET_TIMEOUT_SECONDS = 90.0


def prometheus(target: Target) -> str:
    assert target.prometheus_url, "the scenario is @metrics: the target must have Prometheus"
    return target.prometheus_url.rstrip("/")


def _delivery_page_rule(prometheus_url: str) -> dict[str, object]:
    reply = httpx.get(f"{prometheus_url}/api/v1/rules", params={"type": "alert"}, timeout=10.0)
    reply.raise_for_status()
    for group in reply.json()["data"]["groups"]:
        for rule in group["rules"]:
            if rule["name"] == DELIVERY_ALERT and rule["labels"].get("severity") == PAGE:
                found: dict[str, object] = rule
                return found
    raise AssertionError(f"Prometheus has no {DELIVERY_ALERT} page rule loaded")


def _skip_unless_scaled(prometheus_url: str) -> None:
    duration = _delivery_page_rule(prometheus_url)["duration"]
    assert isinstance(duration, int | float)
    if duration >= REAL_PAGE_FOR_SECONDS:
        pytest.skip(
            "the alert windows are the real ones (hours): start the native stack with "
            f"{TIME_SCALE_VARIABLE}=360 (docs/observability.md)"
        )


def _skip_unless_routed_here(stack: NativeStack, url: str) -> None:
    reply = httpx.get(f"{stack.alertmanager_url}/api/v2/status", timeout=10.0)
    reply.raise_for_status()
    if url not in reply.json()["config"]["original"]:
        pytest.skip(f"Alertmanager does not post to {url} (TASKHUB_ALERT_WEBHOOK_URL is set)")


def _delivery_page_firing(prometheus_url: str) -> bool:
    query = f'ALERTS{{alertname="{DELIVERY_ALERT}",severity="{PAGE}",alertstate="firing"}}'
    reply = httpx.get(f"{prometheus_url}/api/v1/query", params={"query": query}, timeout=10.0)
    reply.raise_for_status()
    return bool(reply.json()["data"]["result"])


@pytest.fixture
def on_call_receiver(native_stack: NativeStack, target: Target) -> Iterator[AlertReceiver]:
    """The receiver Alertmanager posts to natively, for one scenario."""
    prometheus_url = prometheus(target)
    port = native_stack.ports.alert_receiver
    _skip_unless_scaled(prometheus_url)
    _skip_unless_routed_here(native_stack, f"127.0.0.1:{port}{RECEIVER_PATH}")
    with running_alert_receiver(port, RECEIVER_PATH) as receiver:
        yield receiver


@given("the on-call receiver listens for TaskHub's alerts")
def receiver_listens(on_call_receiver: AlertReceiver, target: Target) -> None:
    prometheus_url = prometheus(target)
    assert wait_until(lambda: not _delivery_page_firing(prometheus_url), QUIET_TIMEOUT_SECONDS), (
        f"{DELIVERY_ALERT} still fires from before the scenario"
    )


def _delivery_page_notice(
    receiver: AlertReceiver, status: str, since: float, seconds: float
) -> AlertNotice:
    """The first delivery page notice with `status` after `since`, waited for `seconds`."""

    def arrived() -> bool:
        found = receiver.first(status=status, since=since, alertname=DELIVERY_ALERT, severity=PAGE)
        return found is not None

    if not wait_until(arrived, seconds):
        received = [(n.status, n.labels.get("alertname")) for n in receiver.notices()]
        raise AssertionError(
            f"no {status} {DELIVERY_ALERT} page within {seconds:.0f} s; received: {received}"
        )
    notice = receiver.first(status=status, since=since, alertname=DELIVERY_ALERT, severity=PAGE)
    assert notice is not None
    return notice


@then(
    parsers.re(
        r"^the on-call receiver is paged for the delivery SLO within (?P<seconds>\d+) seconds$"
    )
)
def paged(
    on_call_receiver: AlertReceiver, outage: Outage, figures: dict[str, str], seconds: str
) -> None:
    notice = _delivery_page_notice(on_call_receiver, "firing", outage.began, float(seconds))
    assert notice.labels["slo"] == "delivery"
    assert "docs/observability.md" in notice.annotations["description"]
    figures["outage → page"] = f"{notice.received_at - outage.began:.0f} s"


@when("notifications are back")
def notifications_back(chaos: Chaos, outage: Outage) -> None:
    chaos.start(NOTIFY_PROGRAM)  # returns once notify-svc answers its health check
    outage.ended = time.monotonic()


@then(
    parsers.re(
        r"^the on-call receiver gets word that the delivery page is resolved "
        r"within (?P<seconds>\d+) seconds$"
    )
)
def resolved(
    on_call_receiver: AlertReceiver, outage: Outage, figures: dict[str, str], seconds: str
) -> None:
    assert outage.ended is not None
    notice = _delivery_page_notice(on_call_receiver, "resolved", outage.began, float(seconds))
    figures["return → resolved"] = f"{notice.received_at - outage.ended:.0f} s"
