"""The webhook receiver: real HTTP on loopback, signature checks, holding, hang-up detection."""

from __future__ import annotations

import inspect
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from taskhub_e2e.receiver import (
    FIRST_PORT,
    Behaviour,
    WebhookReceiver,
    allowlist_value,
    parse_allowlist,
    receiver_port,
    receiver_usable,
    running_receiver,
    sign,
    signed_at,
    verify_signature,
)

SECRET = "receiver-test-secret"
NOTIFY_README = Path(__file__).resolve().parents[2] / "services" / "notify-svc" / "README.md"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    # Port 0: the tests take any free port; the suite uses its fixed range.
    with running_receiver(0, SECRET) as running:
        yield running


def signed(
    body: bytes, secret: str = SECRET, *, delivery_id: str = "job-1", age: int = 0
) -> dict[str, str]:
    timestamp = int(time.time()) - age
    return {
        "Content-Type": "application/json",
        "X-TaskHub-Delivery": delivery_id,
        "X-TaskHub-Signature": sign(
            secret.encode(), timestamp=timestamp, delivery_id=delivery_id, body=body
        ),
    }


def test_records_a_signed_delivery(receiver: WebhookReceiver) -> None:
    inbox = receiver.open_inbox()
    body = json.dumps({"hello": "world"}).encode()

    response = httpx.post(inbox.url, content=body, headers=signed(body))

    assert response.status_code == 200
    (delivery,) = inbox.wait_for(1, 5.0)
    assert delivery.signature_valid
    assert delivery.delivery_id == "job-1"
    assert delivery.json() == {"hello": "world"}
    assert delivery.answered == 200


def test_a_wrong_signature_is_refused_and_recorded_as_invalid(receiver: WebhookReceiver) -> None:
    inbox = receiver.open_inbox()
    body = b'{"a": 1}'
    relabelled = signed(body) | {"X-TaskHub-Delivery": "job-2"}

    answers = [
        httpx.post(inbox.url, content=body, headers=headers).status_code
        for headers in (
            signed(body, secret="another secret"),
            {"Content-Type": "application/json"},
            relabelled,
        )
    ]

    assert answers == [401, 401, 401]
    assert [delivery.signature_valid for delivery in inbox.wait_for(3, 5.0)] == [False] * 3


def test_an_old_timestamp_is_refused_even_when_correctly_signed(
    receiver: WebhookReceiver,
) -> None:
    strict = receiver.open_inbox(Behaviour(tolerance_seconds=2))
    body = b'{"replayed": true}'

    fresh = httpx.post(strict.url, content=body, headers=signed(body, delivery_id="a"))
    old = httpx.post(strict.url, content=body, headers=signed(body, delivery_id="b", age=3))
    default = httpx.post(
        receiver.open_inbox().url, content=body, headers=signed(body, delivery_id="c", age=301)
    )

    assert (fresh.status_code, old.status_code, default.status_code) == (200, 401, 401)
    assert [delivery.signature_valid for delivery in strict.wait_for(2, 5.0)] == [True, False]


def test_a_delivery_id_accepted_before_is_marked_a_duplicate(receiver: WebhookReceiver) -> None:
    inbox = receiver.open_inbox()
    body = b"{}"

    for delivery_id in ("x", "x", "y"):
        httpx.post(inbox.url, content=body, headers=signed(body, delivery_id=delivery_id))

    assert [delivery.duplicate for delivery in inbox.wait_for(3, 5.0)] == [False, True, False]


def test_deliveries_held_at_once_are_counted(receiver: WebhookReceiver) -> None:
    inbox = receiver.open_inbox(Behaviour(hold_seconds=1.0, hold_first=3))
    body = b"{}"
    senders = [
        threading.Thread(
            target=httpx.post,
            args=(inbox.url,),
            kwargs={"content": body, "headers": signed(body, delivery_id=f"d{n}")},
        )
        for n in range(2)
    ]

    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join(5.0)

    assert [delivery.answered for delivery in inbox.wait_for(2, 5.0)] == [200, 200]
    assert (inbox.peak_holding, inbox.holding) == (2, 0)


def test_the_receiver_verifies_with_notify_svcs_documented_function() -> None:
    readme = NOTIFY_README.read_text()
    documented = readme.split("## Verifying a webhook", 1)[1].split("```python", 1)[1]
    assert inspect.getsource(verify_signature) in documented.split("```", 1)[0]


def test_signed_at_reads_the_timestamp() -> None:
    assert signed_at(sign(b"k", timestamp=42, delivery_id="d", body=b"")) == 42
    assert signed_at("v1=00") is None


def test_a_failing_inbox_answers_500_every_time(receiver: WebhookReceiver) -> None:
    inbox = receiver.open_inbox(Behaviour(status=500))
    body = b"{}"

    statuses = [httpx.post(inbox.url, content=body, headers=signed(body)).status_code for _ in "ab"]

    assert statuses == [500, 500]
    assert [delivery.answered for delivery in inbox.snapshot()] == [500, 500]


def test_unknown_and_closed_inboxes_are_not_found(receiver: WebhookReceiver) -> None:
    inbox = receiver.open_inbox()
    receiver.close_inbox(inbox)

    assert httpx.post(inbox.url, content=b"{}").status_code == 404
    assert httpx.post(inbox.url.rsplit("/", 1)[0] + "/nope", content=b"{}").status_code == 404
    assert inbox.snapshot() == []


def test_a_held_delivery_whose_sender_hangs_up_is_never_answered(
    receiver: WebhookReceiver,
) -> None:
    inbox = receiver.open_inbox(Behaviour(hold_seconds=10.0, hold_first=1))
    body = b'{"slow": true}'
    request = (
        f"POST /{inbox.url.split('/', 3)[3]} HTTP/1.1\r\nHost: x\r\n"
        f"Content-Length: {len(body)}\r\n"
        + "".join(f"{name}: {value}\r\n" for name, value in signed(body).items())
        + "\r\n"
    ).encode() + body

    with socket.create_connection(("127.0.0.1", receiver.port), timeout=5) as sender:
        sender.sendall(request)
        assert inbox.wait_for_arrivals(1, 5.0)
    # The sender is gone; the next delivery is answered at once.
    (held,) = inbox.wait_for(1, 5.0)
    retry = httpx.post(inbox.url, content=body, headers=signed(body))

    assert held.answered is None
    assert held.signature_valid
    assert retry.status_code == 200
    assert [delivery.answered for delivery in inbox.wait_for(2, 5.0)] == [None, 200]


def test_a_held_delivery_is_answered_after_the_hold(receiver: WebhookReceiver) -> None:
    inbox = receiver.open_inbox(Behaviour(hold_seconds=1.0, hold_first=1))
    body = b"{}"
    answers: list[int] = []
    sender = threading.Thread(
        target=lambda: answers.append(
            httpx.post(inbox.url, content=body, headers=signed(body)).status_code
        )
    )

    sender.start()
    assert inbox.wait_for_arrivals(1, 5.0)
    assert inbox.snapshot() == []  # still held
    sender.join(5.0)

    assert answers == [200]
    assert [delivery.answered for delivery in inbox.snapshot()] == [200]


@pytest.mark.parametrize(
    ("worker", "offset"),
    [("main", 0), ("", 0), ("gw0", 0), ("gw9", 9), ("gw10", None), ("odd", None)],
)
def test_each_worker_has_its_own_port(worker: str, offset: int | None) -> None:
    # FIRST_PORT is the stack's `receivers` port unless TASKHUB_RECEIVERS_PORT moves the ten.
    assert receiver_port(worker) == (None if offset is None else FIRST_PORT + offset)


def test_the_allowlist_is_read_like_notify_svc_reads_it() -> None:
    assert parse_allowlist(" 127.0.0.1:5000 , a.example:80,") == {"127.0.0.1:5000", "a.example:80"}
    assert parse_allowlist('["127.0.0.1:8191"]') == {"127.0.0.1:8191"}
    assert parse_allowlist(allowlist_value()) == {f"127.0.0.1:{FIRST_PORT + n}" for n in range(10)}


def test_the_receiver_is_usable_only_when_allowlisted_with_a_known_secret() -> None:
    complete = {
        "NOTIFY_WEBHOOK_ALLOWLIST": allowlist_value(),
        "NOTIFY_WEBHOOK_SIGNING_SECRET": "s",
    }

    assert receiver_usable(complete, "gw1") == (True, "")
    usable, why = receiver_usable({}, "main")
    assert not usable
    assert allowlist_value() in why
    only_the_first = {**complete, "NOTIFY_WEBHOOK_ALLOWLIST": f"127.0.0.1:{FIRST_PORT}"}
    usable, why = receiver_usable(only_the_first, "gw1")
    assert not usable
    assert f"127.0.0.1:{FIRST_PORT + 1}" in why
    usable, why = receiver_usable({**complete, "NOTIFY_WEBHOOK_SIGNING_SECRET": ""}, "main")
    assert not usable
    assert "SIGNING_SECRET" in why
    assert not receiver_usable(complete, "gw12")[0]
