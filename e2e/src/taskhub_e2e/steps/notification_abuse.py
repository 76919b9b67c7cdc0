"""Steps of notification abuse: one user flooding the notification API, one user's slow
webhook receivers against everyone else's notifications, and replayed webhook deliveries.

The replay is checked by the suite's receiver, which verifies signatures with the very
function notify-svc's README gives receivers (`taskhub_e2e.receiver.verify_signature`).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

import httpx
import pytest
from pytest_bdd import given, parsers, then, when

from taskhub_e2e.actors import Cast
from taskhub_e2e.client import TaskHubClient
from taskhub_e2e.outcomes import describe, expect_status
from taskhub_e2e.receiver import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    Behaviour,
    Delivery,
    WebhookReceiver,
    signed_at,
)
from taskhub_e2e.steps.auth import ensure_signed_in
from taskhub_e2e.steps.notifications import (
    DELIVERY_SECONDS,
    HER,
    NAME,
    WHO,
    NotifyBook,
    email_request,
    expect_delivered,
    wait_for_job,
)
from taskhub_e2e.target import Target

# The submissions must all fall within the quota's window.
QUOTA_WINDOW_SECONDS = 60
# A slow receiver holds each delivery this much less than the deployment's webhook
# timeout: slow, yet answering before notify-svc gives up on it.
HOLD_MARGIN_SECONDS = 1.0
# Below this the hold is too short to tell a fair worker from an unfair one.
MIN_HOLD_SECONDS = 3.0


@dataclass
class AbuseBook:
    """The replays tried on a receiver, and their answers."""

    replies: list[httpx.Response] = field(default_factory=list)


@pytest.fixture
def abuse_book() -> AbuseBook:
    return AbuseBook()


# --- flooding ---------------------------------------------------------------------------


@given(parsers.re(rf"^{WHO} has sent (?P<count>\d+) notifications within the last minute$"))
def has_sent_many(
    cast: Cast, api: TaskHubClient, notify_book: NotifyBook, who: str, count: str
) -> None:
    actor = cast[who]
    ensure_signed_in(api, actor)
    started = time.monotonic()
    for _ in range(int(count)):
        response = api.notify_email(actor.require_access(), **email_request(actor))
        expect_status(response, 202)
        notify_book.keep(actor, response)
    elapsed = time.monotonic() - started
    assert elapsed < QUOTA_WINDOW_SECONDS, f"{count} notifications took {elapsed:.0f} s"


# --- slow receivers ---------------------------------------------------------------------


@given(parsers.re(rf"^{WHO} has a webhook receiver that answers just before TaskHub gives up$"))
def has_slow_receiver(
    cast: Cast, request: pytest.FixtureRequest, notify_book: NotifyBook, who: str
) -> None:
    receiver: WebhookReceiver = request.getfixturevalue("webhook_receiver")
    target: Target = request.getfixturevalue("target")
    timeout = float(target.notify_settings.get("NOTIFY_WEBHOOK_TIMEOUT_SECONDS") or 10)
    # Slow, not failing: each delivery holds a worker as long as a receiver can.
    hold = timeout - HOLD_MARGIN_SECONDS
    assert hold >= MIN_HOLD_SECONDS, f"NOTIFY_WEBHOOK_TIMEOUT_SECONDS={timeout} is too short"
    behaviour = Behaviour(hold_seconds=hold, hold_first=1_000_000)
    notify_book.inboxes[cast[who].name] = receiver.open_inbox(behaviour)


@when(parsers.re(rf"^{WHO} sends (?P<count>\d+) webhook notifications to {HER} receiver$"))
def sends_many_webhooks(
    cast: Cast, api: TaskHubClient, notify_book: NotifyBook, who: str, count: str
) -> None:
    actor = cast[who]
    inbox = notify_book.inbox_of(actor)
    for number in range(int(count)):
        payload = {"number": number, "nonce": secrets.token_hex(8)}
        response = api.notify_webhook(actor.require_access(), url=inbox.url, payload=payload)
        expect_status(response, 202)
        notify_book.keep(actor, response)
    # The slow receiver holds a delivery by now: a worker is busy with this user.
    assert inbox.wait_for_arrivals(1, DELIVERY_SECONDS), "no delivery reached the receiver"


@when(parsers.re(rf"^{WHO} sends an e-mail notification meanwhile$"), target_fixture="reply")
def sends_email_meanwhile(
    cast: Cast, api: TaskHubClient, notify_book: NotifyBook, who: str
) -> httpx.Response:
    actor = cast[who]
    ensure_signed_in(api, actor)
    response = api.notify_email(actor.require_access(), **email_request(actor))
    expect_status(response, 202)
    notify_book.keep(actor, response)
    return cast.answered(response)


@then(
    parsers.re(
        rf"^it is delivered while (?P<owner>{NAME})'s receiver still holds "
        r"(?:her|his|their) first delivery$"
    )
)
def delivered_meanwhile(
    cast: Cast, api: TaskHubClient, notify_book: NotifyBook, owner: str
) -> None:
    slow = notify_book.inbox_of(cast.actors[owner])
    job = wait_for_job(api, notify_book.owner(), notify_book.it(), DELIVERY_SECONDS)
    answered = slow.snapshot()
    expect_delivered(job, attempts=1)
    assert not answered, f"delivered only after {len(answered)} of {owner}'s slow deliveries"


@then(parsers.re(rf"^(?P<owner>{NAME})'s receiver never held more than one delivery at once$"))
def one_at_a_time(cast: Cast, notify_book: NotifyBook, owner: str) -> None:
    inbox = notify_book.inbox_of(cast.actors[owner])
    assert inbox.arrivals >= 1, "the receiver was never called"
    assert inbox.peak_holding == 1, f"{inbox.peak_holding} deliveries were held at once"


# --- replays ----------------------------------------------------------------------------


@given(
    parsers.re(
        rf"^{WHO} has a webhook receiver that accepts signatures up to (?P<seconds>\d+) "
        r"seconds old$"
    )
)
def has_strict_receiver(
    cast: Cast, request: pytest.FixtureRequest, notify_book: NotifyBook, who: str, seconds: str
) -> None:
    receiver: WebhookReceiver = request.getfixturevalue("webhook_receiver")
    inbox = receiver.open_inbox(Behaviour(tolerance_seconds=int(seconds)))
    notify_book.inboxes[cast[who].name] = inbox


def _genuine_delivery(notify_book: NotifyBook) -> Delivery:
    deliveries = notify_book.inbox_of(notify_book.owner()).snapshot()
    assert deliveries, "nothing was delivered to replay"
    return deliveries[0]


def _replay(
    notify_book: NotifyBook, abuse_book: AbuseBook, delivery: Delivery, signature: str
) -> None:
    inbox = notify_book.inbox_of(notify_book.owner())
    headers = {
        "Content-Type": delivery.headers.get("content-type", "application/json"),
        DELIVERY_HEADER: delivery.headers.get(DELIVERY_HEADER.lower(), ""),
        SIGNATURE_HEADER: signature,
    }
    abuse_book.replies.append(httpx.post(inbox.url, content=delivery.body, headers=headers))


@when(parsers.re(rf"^the delivery is replayed to {HER} receiver (?P<seconds>\d+) seconds later$"))
def replayed_later(notify_book: NotifyBook, abuse_book: AbuseBook, seconds: str) -> None:
    delivery = _genuine_delivery(notify_book)
    signed = signed_at(delivery.headers.get(SIGNATURE_HEADER.lower(), ""))
    assert signed is not None, f"the delivery has no signed timestamp: {delivery.headers}"
    time.sleep(max(0.0, signed + int(seconds) - time.time()))
    _replay(notify_book, abuse_book, delivery, delivery.headers[SIGNATURE_HEADER.lower()])


@when(parsers.re(r"^the delivery is replayed with its timestamp changed to now$"))
def replayed_with_new_timestamp(notify_book: NotifyBook, abuse_book: AbuseBook) -> None:
    delivery = _genuine_delivery(notify_book)
    original = delivery.headers[SIGNATURE_HEADER.lower()]
    forged = ",".join(
        f"t={int(time.time())}" if item.startswith("t=") else item for item in original.split(",")
    )
    assert forged != original
    _replay(notify_book, abuse_book, delivery, forged)


@then(parsers.re(rf"^{HER} receiver refuses the replay$"))
def replay_refused(notify_book: NotifyBook, abuse_book: AbuseBook) -> None:
    assert abuse_book.replies, "nothing was replayed"
    reply = abuse_book.replies[-1]
    assert reply.status_code == 401, f"the replay was not refused: {describe(reply)}"
    last = notify_book.inbox_of(notify_book.owner()).snapshot()[-1]
    assert not last.signature_valid, f"the replay's signature passed: {last.headers}"
    assert last.answered == 401, last
