"""Steps of notifications: e-mail and webhook jobs, retries and dead letters, idempotency,
scheduling and canceling, the notifications of done tasks, reminders, and the SSRF guard.

Waiting is always polling with a deadline. The deadlines come from the deployment's
notify-svc settings (`Target.notify_settings`: natively the stack's environment), e.g. the
retry backoff and the reminder lead time, so a scenario never waits longer than needed.
"""

from __future__ import annotations

import os
import secrets
import signal
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pytest_bdd import given, parsers, then, when

from taskhub_client.generated.api.jobs import jobs_queue_email
from taskhub_client.generated.models.email_job_create import EmailJobCreate
from taskhub_e2e.actors import Actor, Cast
from taskhub_e2e.chaos import wait_until
from taskhub_e2e.client import TaskHubClient
from taskhub_e2e.outcomes import describe, expect_status, json_body
from taskhub_e2e.python_client import through_client
from taskhub_e2e.receiver import (
    RECEIVER_HOST,
    SECRET_VARIABLE,
    Behaviour,
    Delivery,
    Inbox,
    WebhookReceiver,
    parse_allowlist,
    receiver_port,
)
from taskhub_e2e.steps.auth import ensure_signed_in
from taskhub_e2e.target import Capability, Target
from taskhub_e2e.taskbook import TaskBook, create_task, iso, moment
from taskhub_stack.native import NativeStack
from taskhub_stack.supervisor import RUNNING

WHO = r"(?P<who>[A-Z][a-z]+|she|he|they)"
NAME = r"[A-Z][a-z]+"
HER = r"(?:her|his|their)"
FINAL_STATUSES = frozenset({"ok", "failed", "canceled"})
POLL_SECONDS = 0.25
# A queued job is delivered within this (a busy worker, a slow shared box).
DELIVERY_SECONDS = 20.0
# task-svc's outbox relay backs off while notify-svc is down; this covers its retries.
EVENT_SECONDS = 30.0
# Time the scheduler gets past a job's send_at before "never delivered" is believed.
SCHEDULE_GRACE_SECONDS = 2.0
# A scenario that needs the stuck-job sweep is skipped when the sweep is slower than this.
MAX_RECOVERY_SECONDS = 90.0
CELERY_WORKER = "celery-worker"
# Webhooks are delivered by a worker of their own (notify-svc README, "Capacity").
WEBHOOK_WORKER = "celery-webhooks"
MAX_PAGES = 20
PAGE_SIZE = 100


@dataclass(frozen=True)
class NotifyTiming:
    """notify-svc's timing settings as the deployment has them (defaults: .env.example)."""

    reminder_lead: timedelta
    reminder_scan_seconds: float
    retry_backoff_seconds: float
    retry_backoff_max_seconds: float
    stuck_job_seconds: float
    stuck_sweep_seconds: float

    @classmethod
    def of(cls, settings: Mapping[str, str]) -> NotifyTiming:
        def number(name: str, default: float) -> float:
            return float(settings.get(f"NOTIFY_{name}") or default)

        return cls(
            reminder_lead=timedelta(minutes=number("REMINDER_LEAD_MINUTES", 60)),
            reminder_scan_seconds=number("REMINDER_SCAN_SECONDS", 60),
            retry_backoff_seconds=number("RETRY_BACKOFF_SECONDS", 5),
            retry_backoff_max_seconds=number("RETRY_BACKOFF_MAX_SECONDS", 600),
            stuck_job_seconds=number("STUCK_JOB_SECONDS", 300),
            stuck_sweep_seconds=number("STUCK_SWEEP_SECONDS", 60),
        )

    def all_attempts_seconds(self, attempts: int) -> float:
        """The longest time `attempts` attempts take: every backoff at its full length."""
        backoffs = sum(
            min(self.retry_backoff_seconds * 2.0**n, self.retry_backoff_max_seconds)
            for n in range(attempts - 1)
        )
        return backoffs + DELIVERY_SECONDS

    def recovery_seconds(self) -> float:
        """How long a job lost with a dead worker waits for the stuck-job sweep, at most."""
        return self.stuck_job_seconds + 2 * self.stuck_sweep_seconds + DELIVERY_SECONDS


@pytest.fixture
def notify_timing(target: Target) -> NotifyTiming:
    return NotifyTiming.of(target.notify_settings)


@pytest.fixture(scope="session")
def webhook_receiver(target: Target) -> Iterator[WebhookReceiver]:
    """This test process's receiver, on its fixed (allowlisted) port."""
    if not target.has(Capability.WEBHOOKS):
        pytest.skip(f"needs {Capability.WEBHOOKS}: {target.missing[Capability.WEBHOOKS]}")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    port = receiver_port(worker)
    assert port is not None, f"no receiver port for {worker}"
    try:
        receiver = WebhookReceiver(port, target.notify_settings[SECRET_VARIABLE]).start()
    except OSError as error:
        pytest.fail(f"the webhook receiver cannot listen on {RECEIVER_HOST}:{port}: {error}")
    try:
        yield receiver
    finally:
        receiver.stop()


@dataclass
class NotifyBook:
    """The notifications of one scenario, and which one "it" is."""

    # Job id -> the actor who asked for it, in order of asking.
    jobs: dict[str, Actor] = field(default_factory=dict)
    current: str | None = None
    send_at: datetime | None = None
    request: dict[str, Any] = field(default_factory=dict)
    idempotency_key: str = ""
    inboxes: dict[str, Inbox] = field(default_factory=dict)
    payloads: dict[str, Any] = field(default_factory=dict)

    def keep(self, actor: Actor, response: httpx.Response) -> None:
        if response.status_code in (200, 202):
            job_id = json_body(response)["id"]
            self.jobs[job_id] = actor
            self.current = job_id

    def it(self) -> str:
        assert self.current is not None, "the scenario has no notification yet"
        return self.current

    def owner(self) -> Actor:
        return self.jobs[self.it()]

    def latest_of(self, actor: Actor) -> str:
        mine = [job_id for job_id, owner in self.jobs.items() if owner is actor]
        assert mine, f"{actor.name} has no notification in this scenario"
        return mine[-1]

    def inbox_of(self, actor: Actor) -> Inbox:
        assert actor.name in self.inboxes, f"{actor.name} has no webhook receiver"
        return self.inboxes[actor.name]


@pytest.fixture
def notify_book(request: pytest.FixtureRequest) -> Iterator[NotifyBook]:
    book = NotifyBook()
    yield book
    if book.inboxes:
        receiver: WebhookReceiver = request.getfixturevalue("webhook_receiver")
        for inbox in book.inboxes.values():
            receiver.close_inbox(inbox)


# --- helpers (plain functions: steps call them, they are not steps) --------------------


def email_request(actor: Actor, **extra: Any) -> dict[str, Any]:
    subject = f"Hello from TaskHub {secrets.token_hex(3)}"
    return {"to": actor.person.email, "subject": subject, "body": "A test message.", **extra}


def read_job(api: TaskHubClient, actor: Actor, job_id: str) -> dict[str, Any]:
    response = api.get_job(actor.require_access(), job_id)
    expect_status(response, 200)
    body: dict[str, Any] = json_body(response)
    return body


def wait_for_job(
    api: TaskHubClient,
    actor: Actor,
    job_id: str,
    seconds: float,
    *,
    until: Callable[[dict[str, Any]], bool] = lambda job: job["status"] in FINAL_STATUSES,
    each: Callable[[dict[str, Any]], None] = lambda _job: None,
) -> dict[str, Any]:
    """Poll the job until `until` holds (`each` checks every state seen); the last state."""
    deadline = time.monotonic() + seconds
    while True:
        job = read_job(api, actor, job_id)
        each(job)
        if until(job) or time.monotonic() >= deadline:
            return job
        time.sleep(POLL_SECONDS)


def expect_delivered(job: dict[str, Any], *, attempts: int | None = None) -> None:
    assert job["status"] == "ok", f"the notification is {job['status']}: {job}"
    assert job["last_error"] is None, job
    if attempts is not None:
        assert job["attempts"] == attempts, f"delivered after {job['attempts']} attempts: {job}"


def task_jobs(api: TaskHubClient, actor: Actor, **filters: Any) -> tuple[list[dict[str, Any]], int]:
    response = api.list_jobs(actor.require_access(), limit=PAGE_SIZE, **filters)
    expect_status(response, 200)
    body = json_body(response)
    return body["items"], body["total"]


def wait_for_task_jobs(
    api: TaskHubClient, actor: Actor, count: int, seconds: float, **filters: Any
) -> list[dict[str, Any]]:
    """The jobs matching `filters` once `count` of them are final (or at the deadline)."""
    deadline = time.monotonic() + seconds
    while True:
        items, _total = task_jobs(api, actor, **filters)
        finished = [job for job in items if job["status"] in FINAL_STATUSES]
        if len(finished) >= count or time.monotonic() >= deadline:
            return items
        time.sleep(POLL_SECONDS)


def expect_signed_delivery(delivery: Delivery, job_id: str) -> None:
    assert delivery.signature_valid, f"bad signature: {delivery.headers}"
    assert delivery.delivery_id == job_id, f"delivery id {delivery.delivery_id} != job {job_id}"
    content_type = delivery.headers.get("content-type", "")
    assert content_type.startswith("application/json"), content_type


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# --- sending ---------------------------------------------------------------------------


@when(parsers.re(rf"^{WHO} sends an e-mail notification$"), target_fixture="reply")
def sends_email(
    cast: Cast, api: TaskHubClient, notify_book: NotifyBook, who: str
) -> httpx.Response:
    actor = cast[who]
    body = (EmailJobCreate, email_request(actor))
    response = through_client(
        api, actor.require_access(), jobs_queue_email.sync_detailed, body=body
    )
    notify_book.keep(actor, response)
    return cast.answered(response)


@then("it is accepted for delivery")
def accepted(notify_book: NotifyBook, reply: httpx.Response) -> None:
    expect_status(reply, 202)
    body = json_body(reply)
    assert body == {"id": notify_book.it(), "status": "queued"}, describe(reply)


@then("it is delivered at the first attempt")
def delivered_first_time(api: TaskHubClient, notify_book: NotifyBook) -> None:
    job = wait_for_job(api, notify_book.owner(), notify_book.it(), DELIVERY_SECONDS)
    expect_delivered(job, attempts=1)


@given(
    parsers.re(
        rf"^{WHO} has a webhook receiver(?: that (?P<behaviour>always fails"
        r"|holds the first delivery for (?P<hold>\d+) seconds))?$"
    )
)
def has_receiver(
    cast: Cast,
    request: pytest.FixtureRequest,
    notify_book: NotifyBook,
    who: str,
    behaviour: str | None,
    hold: str | None,
) -> None:
    receiver: WebhookReceiver = request.getfixturevalue("webhook_receiver")
    if behaviour == "always fails":
        answer = Behaviour(status=500)
    elif hold:
        answer = Behaviour(hold_seconds=float(hold), hold_first=1)
    else:
        answer = Behaviour()
    notify_book.inboxes[cast[who].name] = receiver.open_inbox(answer)


@when(
    parsers.re(rf"^{WHO} sends a webhook notification to {HER} receiver$"),
    target_fixture="reply",
)
def sends_webhook(
    cast: Cast, api: TaskHubClient, notify_book: NotifyBook, who: str
) -> httpx.Response:
    actor = cast[who]
    payload = {"greeting": "hello", "nonce": secrets.token_hex(8), "items": [1, 2, 3]}
    url = notify_book.inbox_of(actor).url
    response = api.notify_webhook(actor.require_access(), url=url, payload=payload)
    expect_status(response, 202)
    notify_book.keep(actor, response)
    notify_book.payloads[notify_book.it()] = payload
    return cast.answered(response)


@then(parsers.re(rf"^{HER} receiver gets it exactly once, signed, naming the notification$"))
def receiver_got_it_once(notify_book: NotifyBook) -> None:
    # The job is `ok` by now (an earlier step), so every delivery has happened.
    deliveries = notify_book.inbox_of(notify_book.owner()).snapshot()
    assert len(deliveries) == 1, f"{len(deliveries)} deliveries: {deliveries}"
    expect_signed_delivery(deliveries[0], notify_book.it())
    assert deliveries[0].json() == notify_book.payloads[notify_book.it()], deliveries[0].body


@then(parsers.re(r"^it fails after exactly (?P<attempts>\d+) attempts$"))
def fails_after(
    api: TaskHubClient, notify_book: NotifyBook, notify_timing: NotifyTiming, attempts: str
) -> None:
    seconds = notify_timing.all_attempts_seconds(int(attempts))
    job = wait_for_job(api, notify_book.owner(), notify_book.it(), seconds)
    assert job["status"] == "failed", f"after {seconds:.0f} s the notification is: {job}"
    assert job["attempts"] == int(attempts), job
    assert "500" in (job["last_error"] or ""), f"the error does not say why: {job}"


@then(parsers.re(rf"^{HER} receiver was called exactly (?P<times>\d+) times$"))
def receiver_called(notify_book: NotifyBook, times: str) -> None:
    deliveries = notify_book.inbox_of(notify_book.owner()).snapshot()
    assert len(deliveries) == int(times), f"called {len(deliveries)} times"
    for delivery in deliveries:
        expect_signed_delivery(delivery, notify_book.it())


@then("the administrator finds it among the dead letters")
def in_dead_letters(cast: Cast, api: TaskHubClient, notify_book: NotifyBook) -> None:
    admin = cast.actors["the administrator"]
    job_id = notify_book.it()
    for page in range(1, MAX_PAGES + 1):
        response = api.failed_notifications(admin.require_access(), page=page, limit=PAGE_SIZE)
        expect_status(response, 200)
        items = json_body(response)["items"]
        letter = next((item for item in items if item["job_id"] == job_id), None)
        if letter is not None:
            assert letter["attempts"] == 3, letter
            return
        if not items:
            break
    raise AssertionError(f"no dead letter for {job_id}")


@when(parsers.re(rf"^{WHO} tries to read the dead letters$"), target_fixture="reply")
def reads_dead_letters(cast: Cast, api: TaskHubClient, who: str) -> httpx.Response:
    return cast.answered(api.failed_notifications(cast[who].require_access()))


# --- idempotency -----------------------------------------------------------------------


@when(
    parsers.re(
        rf"^{WHO} sends (?P<which>an|the same|a different) e-mail notification "
        r"with (?:an idempotency key|the same key)(?: again)?$"
    ),
    target_fixture="reply",
)
def sends_with_key(
    cast: Cast, api: TaskHubClient, notify_book: NotifyBook, who: str, which: str
) -> httpx.Response:
    actor = cast[who]
    if which == "an":
        notify_book.idempotency_key = f"e2e-{uuid.uuid4()}"
        notify_book.request = email_request(actor)
    body = email_request(actor) if which == "a different" else notify_book.request
    response = api.notify_email(
        actor.require_access(), idempotency_key=notify_book.idempotency_key, **body
    )
    notify_book.keep(actor, response)
    return cast.answered(response)


@then("both answers name the same notification")
def same_job(cast: Cast) -> None:
    first, second = cast.replies[-2:]
    expect_status(first, 202)
    expect_status(second, 200)
    assert json_body(first)["id"] == json_body(second)["id"], (
        f"two jobs: {first.text} / {second.text}"
    )


# --- scheduling and canceling ----------------------------------------------------------


def schedule_email(api: TaskHubClient, actor: Actor, book: NotifyBook, when: str) -> httpx.Response:
    book.send_at = moment(when)
    request = email_request(actor, send_at=iso(book.send_at))
    response = api.notify_email(actor.require_access(), **request)
    book.keep(actor, response)
    return response


@when(
    parsers.re(rf"^{WHO} schedules an e-mail notification for (?P<when>.+)$"),
    target_fixture="reply",
)
def schedules_email(
    cast: Cast, api: TaskHubClient, notify_book: NotifyBook, who: str, when: str
) -> httpx.Response:
    return cast.answered(schedule_email(api, cast[who], notify_book, when))


@given(parsers.re(rf"^{WHO} has scheduled an e-mail notification for (?P<when>.+)$"))
def has_scheduled_email(
    cast: Cast, api: TaskHubClient, notify_book: NotifyBook, who: str, when: str
) -> None:
    actor = cast[who]
    ensure_signed_in(api, actor)
    expect_status(schedule_email(api, actor, notify_book, when), 202)


@then("it is scheduled")
def is_scheduled(api: TaskHubClient, notify_book: NotifyBook, reply: httpx.Response) -> None:
    expect_status(reply, 202)
    assert json_body(reply)["status"] == "scheduled", describe(reply)
    job = read_job(api, notify_book.owner(), notify_book.it())
    assert job["status"] == "scheduled", job


@then("it is delivered at its time, not before")
def delivered_on_time(api: TaskHubClient, notify_book: NotifyBook) -> None:
    send_at = notify_book.send_at
    assert send_at is not None

    def not_early(job: dict[str, Any]) -> None:
        # A little slack for the clocks of this machine and the deployment's.
        if datetime.now(UTC) < send_at - timedelta(seconds=0.5):
            assert job["status"] == "scheduled", f"out before its time: {job}"

    job = wait_for_job(
        api,
        notify_book.owner(),
        notify_book.it(),
        (send_at - datetime.now(UTC)).total_seconds() + DELIVERY_SECONDS,
        each=not_early,
    )
    expect_delivered(job, attempts=1)
    assert parse_time(job["updated_at"]) >= send_at - timedelta(seconds=0.5), job


@when(parsers.re(rf"^{WHO} cancels it(?: again)?$"), target_fixture="reply")
def cancels(cast: Cast, api: TaskHubClient, notify_book: NotifyBook, who: str) -> httpx.Response:
    return cast.answered(api.cancel_job(cast[who].require_access(), notify_book.it()))


@then("it is canceled")
def is_canceled(api: TaskHubClient, notify_book: NotifyBook, reply: httpx.Response) -> None:
    expect_status(reply, 204)
    job = read_job(api, notify_book.owner(), notify_book.it())
    assert job["status"] == "canceled", job


@then("it is still canceled well after its time")
def stays_canceled(api: TaskHubClient, notify_book: NotifyBook) -> None:
    send_at = notify_book.send_at
    assert send_at is not None
    watch_until = send_at + timedelta(seconds=SCHEDULE_GRACE_SECONDS)

    def still_canceled(job: dict[str, Any]) -> None:
        assert job["status"] == "canceled", f"a canceled notification moved on: {job}"
        assert job["attempts"] == 0, job

    wait_for_job(
        api,
        notify_book.owner(),
        notify_book.it(),
        (watch_until - datetime.now(UTC)).total_seconds(),
        until=lambda _job: datetime.now(UTC) >= watch_until,
        each=still_canceled,
    )


# --- someone else's notification -------------------------------------------------------


@when(parsers.re(rf"^{WHO} looks at (?P<owner>{NAME})'s notification$"), target_fixture="reply")
def looks_at_job(
    cast: Cast, api: TaskHubClient, notify_book: NotifyBook, who: str, owner: str
) -> httpx.Response:
    job_id = notify_book.latest_of(cast.actors[owner])
    return cast.answered(api.get_job(cast[who].require_access(), job_id))


@when(
    parsers.re(rf"^{WHO} tries to cancel (?P<owner>{NAME})'s notification$"),
    target_fixture="reply",
)
def cancels_theirs(
    cast: Cast, api: TaskHubClient, notify_book: NotifyBook, who: str, owner: str
) -> httpx.Response:
    job_id = notify_book.latest_of(cast.actors[owner])
    return cast.answered(api.cancel_job(cast[who].require_access(), job_id))


@then(
    parsers.re(
        rf"^(?P<who>{NAME})'s notification list does not show (?P<owner>{NAME})'s notification$"
    )
)
def job_list_hides(
    cast: Cast, api: TaskHubClient, notify_book: NotifyBook, who: str, owner: str
) -> None:
    job_id = notify_book.latest_of(cast.actors[owner])
    items, total = task_jobs(api, cast.actors[who])
    assert job_id not in {item["id"] for item in items}, f"{who} sees {owner}'s notification"
    assert total == len(items), "the list has more than one page"


@then(parsers.re(rf"^(?P<owner>{NAME})'s notification is still scheduled$"))
def still_scheduled(cast: Cast, api: TaskHubClient, notify_book: NotifyBook, owner: str) -> None:
    actor = cast.actors[owner]
    job = read_job(api, actor, notify_book.latest_of(actor))
    assert job["status"] == "scheduled", job


# --- done tasks and reminders ----------------------------------------------------------


@then(parsers.re(r"^one notification about the task is delivered to (?:her|him|them)$"))
def one_task_notification(cast: Cast, api: TaskHubClient, task_book: TaskBook) -> None:
    task = task_book.the_task()
    owner = next(actor for actor in cast.actors.values() if actor.user_id == task["owner_id"])
    items = wait_for_task_jobs(api, owner, 1, EVENT_SECONDS, kind="task_done", task_id=task["id"])
    assert len(items) == 1, f"{len(items)} notifications for one done task: {items}"
    assert items[0]["type"] == "email", items[0]
    expect_delivered(items[0])


@then(parsers.re(r"^a notification about each of them is delivered to (?:her|him|them)$"))
def each_task_notified(cast: Cast, api: TaskHubClient, task_book: TaskBook) -> None:
    actor = cast["she"]
    done = {task["id"] for task in task_book.owned_by(actor) if task["status"] == "done"}
    items = wait_for_task_jobs(api, actor, len(done), EVENT_SECONDS, kind="task_done")
    by_task = {item["task_id"] for item in items}
    summary = f"{len(items)} notifications for {len(by_task & done)} of {len(done)} done tasks"
    assert by_task == done, summary
    assert len(items) == len(done), summary
    late = [item for item in items if item["status"] != "ok"]
    assert not late, f"{len(late)} not delivered: {late[:3]}"


@given(parsers.re(rf'^{WHO} has a task "(?P<title>[^"]+)" that calls {HER} receiver when done$'))
def has_task_with_webhook(
    cast: Cast,
    api: TaskHubClient,
    task_book: TaskBook,
    notify_book: NotifyBook,
    who: str,
    title: str,
) -> None:
    actor = cast[who]
    url = notify_book.inbox_of(actor).url
    expect_status(create_task(api, actor, task_book, title=title, webhook_url=url), 201)


@then(parsers.re(rf"^{HER} receiver gets the task's done event exactly once, signed$"))
def receiver_got_done_event(
    cast: Cast, api: TaskHubClient, task_book: TaskBook, notify_book: NotifyBook
) -> None:
    task = task_book.the_task()
    actor = cast["she"]
    items = wait_for_task_jobs(api, actor, 2, EVENT_SECONDS, kind="task_done", task_id=task["id"])
    webhooks = [item for item in items if item["type"] == "webhook"]
    assert len(webhooks) == 1, f"{len(webhooks)} webhook jobs: {items}"
    expect_delivered(webhooks[0], attempts=1)
    deliveries = notify_book.inbox_of(actor).snapshot()
    assert len(deliveries) == 1, f"{len(deliveries)} deliveries"
    expect_signed_delivery(deliveries[0], webhooks[0]["id"])
    event = deliveries[0].json()
    assert event["event"] == "task.done", event
    assert event["task"]["id"] == task["id"], event
    assert event["task"]["status"] == "done", event
    assert "webhook_url" not in event["task"], f"the event repeats the webhook URL: {event}"


@given(
    parsers.re(
        rf'^{WHO} has a task "(?P<title>[^"]+)" whose reminder is due in (?P<seconds>\d+) seconds$'
    )
)
def has_task_reminder_soon(
    cast: Cast,
    api: TaskHubClient,
    task_book: TaskBook,
    notify_timing: NotifyTiming,
    who: str,
    title: str,
    seconds: str,
) -> None:
    actor = cast[who]
    due_at = datetime.now(UTC) + notify_timing.reminder_lead + timedelta(seconds=int(seconds))
    expect_status(create_task(api, actor, task_book, title=title, due_at=iso(due_at)), 201)


@then(parsers.re(rf"^{WHO} gets a reminder about the task before its deadline$"))
def gets_reminder(
    cast: Cast, api: TaskHubClient, task_book: TaskBook, notify_timing: NotifyTiming, who: str
) -> None:
    task = task_book.the_task()
    due_at = parse_time(task["due_at"])
    remind_at = due_at - notify_timing.reminder_lead
    seconds = (remind_at - datetime.now(UTC)).total_seconds()
    seconds += notify_timing.reminder_scan_seconds + DELIVERY_SECONDS
    items = wait_for_task_jobs(api, cast[who], 1, seconds, kind="reminder", task_id=task["id"])
    assert len(items) == 1, f"{len(items)} reminders: {items}"
    reminder = items[0]
    expect_delivered(reminder, attempts=1)
    assert parse_time(reminder["created_at"]) >= remind_at - timedelta(seconds=1), (
        f"reminded before {remind_at}: {reminder}"
    )
    assert parse_time(reminder["updated_at"]) < due_at, f"reminded after the deadline: {reminder}"


# --- the SSRF guard --------------------------------------------------------------------

# Places a webhook must not reach; ports chosen off the suite's receiver range, so even a
# loopback allowlist entry for the receiver does not cover them.
PRIVATE_PLACES = {
    "the loopback address": "http://127.0.0.1:1/hook",
    "the loopback by name": "http://localhost:1/hook",
    "the IPv6 loopback address": "http://[::1]:1/hook",
    "a loopback address spelt as number": "http://2130706433:1/hook",
    "a private network address": "http://10.1.2.3/hook",
    "a link-local address": "http://169.254.10.10/hook",
    "the cloud metadata address": "http://169.254.169.254/latest/meta-data/",
    "the cloud metadata service by name": "http://metadata.google.internal/computeMetadata/v1/",
    "a file on the server": "file:///etc/passwd",
}
PLACE = "|".join(PRIVATE_PLACES)


@when(
    parsers.re(rf"^{WHO} sends a webhook notification to (?P<place>{PLACE})$"),
    target_fixture="reply",
)
def sends_webhook_to(
    cast: Cast, api: TaskHubClient, target: Target, who: str, place: str
) -> httpx.Response:
    url = PRIVATE_PLACES[place]
    allowlist = parse_allowlist(target.notify_settings.get("NOTIFY_WEBHOOK_ALLOWLIST", ""))
    authority = httpx.URL(url).netloc.decode() if url.startswith("http") else ""
    assert authority not in allowlist, f"{authority} is allowlisted: pick another place"
    return cast.answered(
        api.notify_webhook(cast[who].require_access(), url=url, payload={"probe": place})
    )


# --- chaos: the worker dies mid-delivery -----------------------------------------------


@pytest.fixture
def worker_killer(native_stack: NativeStack) -> Iterator[Callable[[], None]]:
    """Kills the webhook worker with everything it forked; afterwards it runs again."""

    def kill() -> None:
        pid = native_stack.status()[WEBHOOK_WORKER].pid
        assert pid > 0, f"{WEBHOOK_WORKER} is not running"
        # supervisord starts each program in its own process group: SIGKILL takes the
        # pool's children too, as a crashed host would, with no warm shutdown.
        os.killpg(pid, signal.SIGKILL)

    yield kill
    worker_running_again(native_stack)


def worker_running_again(
    stack: NativeStack, seconds: float = 60.0, program: str = WEBHOOK_WORKER
) -> None:
    """supervisord restarts a killed program by itself; start it if it gave up."""

    def running() -> bool:
        info = stack.status().get(program)
        return info is not None and info.state == RUNNING

    if not wait_until(running, seconds / 2):
        stack.start(program)
    assert wait_until(running, seconds / 2), f"{program} does not run again"


@when(parsers.re(rf"^the notification worker is killed while {HER} receiver holds the delivery$"))
def kill_worker_mid_delivery(
    notify_book: NotifyBook,
    notify_timing: NotifyTiming,
    native_stack: NativeStack,
    worker_killer: Callable[[], None],
) -> None:
    recovery = notify_timing.recovery_seconds()
    if recovery > MAX_RECOVERY_SECONDS:
        pytest.skip(
            f"a job lost with its worker waits for the stuck-job sweep, up to {recovery:.0f} s "
            f"here (NOTIFY_STUCK_JOB_SECONDS={notify_timing.stuck_job_seconds:.0f}, "
            f"NOTIFY_STUCK_SWEEP_SECONDS={notify_timing.stuck_sweep_seconds:.0f})"
        )
    inbox = notify_book.inbox_of(notify_book.owner())
    assert inbox.wait_for_arrivals(1, DELIVERY_SECONDS), "the delivery never reached the receiver"
    worker_killer()
    worker_running_again(native_stack)


@then("it is delivered, once the worker is back")
def delivered_after_recovery(
    api: TaskHubClient, notify_book: NotifyBook, notify_timing: NotifyTiming
) -> None:
    seconds = notify_timing.recovery_seconds()
    job = wait_for_job(api, notify_book.owner(), notify_book.it(), seconds)
    expect_delivered(job)


@then(parsers.re(rf"^{HER} receiver accepted it exactly once, signed, naming the notification$"))
def accepted_once(notify_book: NotifyBook) -> None:
    deliveries = notify_book.inbox_of(notify_book.owner()).snapshot()
    assert deliveries, "nothing arrived"
    assert deliveries[0].answered is None, "the first delivery was answered: the kill came late"
    accepted = [delivery for delivery in deliveries if delivery.answered == 200]
    assert len(accepted) == 1, f"accepted {len(accepted)} times: {deliveries}"
    for delivery in deliveries:
        expect_signed_delivery(delivery, notify_book.it())
