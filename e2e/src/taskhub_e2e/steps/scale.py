"""Steps of features/scale.feature: several instances of each service, reached one by one.

Through the gateway a scenario cannot choose which instance answers, so these steps talk
to each instance directly (`instance_apis`: one client per instance, each service's paths
sent to that instance's own port). Only the native stack with TASKHUB_REPLICAS >= 2 offers
that (the `replicas` capability of the `@scale` tag).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pytest_bdd import given, parsers, then, when

from taskhub_e2e.actors import Actor, Cast
from taskhub_e2e.chaos import Chaos
from taskhub_e2e.client import TaskHubClient, error_code
from taskhub_e2e.outcomes import describe, expect_status, json_body
from taskhub_e2e.people import IdentityFactory
from taskhub_e2e.recording import ExchangeLog
from taskhub_e2e.steps.auth import ensure_signed_in
from taskhub_e2e.steps.notifications import (
    DELIVERY_SECONDS,
    POLL_SECONDS,
    NotifyTiming,
    parse_time,
    task_jobs,
    wait_for_task_jobs,
)
from taskhub_e2e.target import Target
from taskhub_e2e.taskbook import TaskBook, create_task, iso, mark_done
from taskhub_stack.native import REJOIN_SECONDS, SERVICE_PREFIXES, NativeStack
from taskhub_stack.programs import (
    REPLICATED_PROGRAMS,
    explicit_name,
    instance_name,
    split_instance,
)
from taskhub_stack.supervisor import RUNNING

WHO = r"(?P<who>[A-Z][a-z]+|she|he|they)"
WHOSE = r"(?P<who>[A-Z][a-z]+'s|her|his|their)"
HER = r"(?:her|his|their)"
NAMES = r"(?P<names>[A-Z][a-z]+(?:, [A-Z][a-z]+)* and [A-Z][a-z]+)"
ORDINALS = {"first": 0, "second": 1}
ORDINAL = "|".join(ORDINALS)

# The creation limit per person and minute (task-svc's TASKS_CREATE_RATE_LIMIT default).
CREATE_LIMIT_WINDOW_SECONDS = 60.0
# How long the relays get to send an event twice: many of their polls (0.2 s apart).
RELAY_SETTLE_SECONDS = 3.0
# The pace of each person's creations under load: below 60 a minute, so the creation
# limit never answers instead of the instance that was asked.
LOAD_CREATE_EVERY_SECONDS = 1.2
LOAD_LIST_EVERY_SECONDS = 0.05
# Steady load before the first instance stops and after the last one is back.
LOAD_MARGIN_SECONDS = 2.0
# Answers a client waits out and sends again (taskhub-client's `retries`): Retry-After.
RETRIED_STATUSES = frozenset({"429", "503"})


@pytest.fixture
def instance_apis(
    target: Target, exchange_log: ExchangeLog, identities: IdentityFactory
) -> Iterator[list[TaskHubClient]]:
    """A client per instance: instance k's auth-svc, task-svc and notify-svc, directly."""
    stack = target.stack
    if stack is None or target.instances < 2:
        pytest.skip("needs several instances of each service (TASKHUB_REPLICAS=2)")
    clients = [
        TaskHubClient(
            target.base_url,
            exchange_log,
            request_id_prefix=identities.request_id_prefix(),
            service_urls={
                prefix: stack.instance_url(instance_name(service, number))
                for service, prefix in SERVICE_PREFIXES.items()
            },
        )
        for number in range(1, target.instances + 1)
    ]
    yield clients
    for client in clients:
        client.close()


@dataclass
class CreationRun:
    """The answers to a run of task creations, and how long it took."""

    replies: list[httpx.Response] = field(default_factory=list)
    seconds: float = 0.0


@pytest.fixture
def creation_run() -> CreationRun:
    return CreationRun()


# --- the deployment --------------------------------------------------------------------


@given("every service and worker runs as two instances or more, with one scheduler")
def several_instances(native_stack: NativeStack) -> None:
    running = Counter(
        split_instance(name)[0]
        for name, info in native_stack.status().items()
        if info.state == RUNNING
    )
    few = {name: running[name] for name in REPLICATED_PROGRAMS if running[name] < 2}
    assert not few, f"running instances: {few}"
    assert running["celery-beat"] == 1, f"{running['celery-beat']} Celery beats run"


# --- lists and their per-process pages -------------------------------------------------


@given(parsers.re(rf"^{WHO} has read {HER} task list through each instance$"))
def read_list_everywhere(cast: Cast, instance_apis: list[TaskHubClient], who: str) -> None:
    # Each instance now holds the rendered page of this (empty) list in its memory.
    for client in instance_apis:
        expect_status(client.list_tasks(cast[who].require_access()), 200)


@when(
    parsers.re(rf"^{WHO} creates a task through the (?P<which>{ORDINAL}) instance$"),
    target_fixture="reply",
)
def create_through(
    cast: Cast, instance_apis: list[TaskHubClient], task_book: TaskBook, who: str, which: str
) -> httpx.Response:
    client = instance_apis[ORDINALS[which]]
    return cast.answered(create_task(client, cast[who], task_book, title="Seen everywhere"))


@when(parsers.re(rf"^{WHO} marks the task done through the (?P<which>{ORDINAL}) instance$"))
def mark_done_through(
    cast: Cast, instance_apis: list[TaskHubClient], task_book: TaskBook, who: str, which: str
) -> None:
    task = task_book.the_task()
    client = instance_apis[ORDINALS[which]]
    expect_status(mark_done(client, cast[who], task_book, [task["id"]], bulk=False), 200)


def listed_once(client: TaskHubClient, actor: Actor) -> dict[str, dict[str, Any]]:
    """The actor's tasks by id, from one read of the list (no retry: "at once")."""
    response = client.list_tasks(actor.require_access(), limit=100)
    expect_status(response, 200)
    return {task["id"]: task for task in json_body(response)["items"]}


@then(
    parsers.re(
        rf"^{HER} task list read through the (?P<which>{ORDINAL}) instance shows it at once$"
    )
)
def list_shows_it(
    cast: Cast, instance_apis: list[TaskHubClient], task_book: TaskBook, which: str
) -> None:
    task = task_book.the_task()
    listed = listed_once(instance_apis[ORDINALS[which]], cast["she"])
    assert task["id"] in listed, f"the {which} instance lists {sorted(listed)}, not the new task"


@then(
    parsers.re(
        rf"^{HER} task list read through the (?P<which>{ORDINAL}) instance "
        r"shows the task as done at once$"
    )
)
def list_shows_done(
    cast: Cast, instance_apis: list[TaskHubClient], task_book: TaskBook, which: str
) -> None:
    task = task_book.the_task()
    listed = listed_once(instance_apis[ORDINALS[which]], cast["she"])
    assert task["id"] in listed, f"the {which} instance no longer lists the task"
    status = listed[task["id"]]["status"]
    assert status == "done", f"the {which} instance lists the task as {status}"


# --- the creation limit ----------------------------------------------------------------


@when(
    parsers.re(
        rf"^{WHO} creates (?P<count>\d+) tasks within a minute, "
        r"taking turns between the instances$"
    )
)
def create_in_turns(
    cast: Cast,
    instance_apis: list[TaskHubClient],
    task_book: TaskBook,
    creation_run: CreationRun,
    who: str,
    count: str,
) -> None:
    started = time.monotonic()
    for number in range(int(count)):
        client = instance_apis[number % len(instance_apis)]
        creation_run.replies.append(
            create_task(client, cast[who], task_book, title=f"Task {number + 1}")
        )
    creation_run.seconds = time.monotonic() - started
    # Otherwise the window would have moved on and the next step would prove nothing.
    assert creation_run.seconds < CREATE_LIMIT_WINDOW_SECONDS / 2, (
        f"{count} creations took {creation_run.seconds:.1f} s"
    )


@then("every one of them is created")
def all_created(creation_run: CreationRun) -> None:
    refused = [reply for reply in creation_run.replies if reply.status_code != 201]
    assert not refused, f"{len(refused)} refused, the first: {describe(refused[0])}"


@then(
    parsers.re(
        rf"^one more task is refused by each instance, each telling {HER} when to try again$"
    )
)
def refused_everywhere(cast: Cast, instance_apis: list[TaskHubClient], task_book: TaskBook) -> None:
    for number, client in enumerate(instance_apis, start=1):
        reply = create_task(client, cast["she"], task_book, title="One too many")
        assert reply.status_code == 429, f"instance {number}: {describe(reply)}"
        assert error_code(reply) == "RATE_LIMITED", describe(reply)
        retry_after = int(reply.headers.get("retry-after", "0"))
        assert 1 <= retry_after <= CREATE_LIMIT_WINDOW_SECONDS, describe(reply)


# --- refresh tokens --------------------------------------------------------------------


@given(parsers.re(rf"^{WHO} has refreshed {HER} tokens through the (?P<which>{ORDINAL}) instance$"))
def refreshed_through(cast: Cast, instance_apis: list[TaskHubClient], who: str, which: str) -> None:
    actor = cast[who]
    response = instance_apis[ORDINALS[which]].refresh(actor.require_refresh())
    expect_status(response, 200)
    actor.take_tokens(json_body(response))


@when(
    parsers.re(
        rf"^someone replays {WHOSE} first refresh token on the (?P<which>{ORDINAL}) instance$"
    ),
    target_fixture="reply",
)
def replay_on(
    cast: Cast,
    instance_apis: list[TaskHubClient],
    past_the_reuse_grace: float,
    who: str,
    which: str,
) -> httpx.Response:
    actor = cast[who]
    assert actor.spent_refresh, f"{actor.name} has not refreshed yet"
    # Within the grace a replay is taken for a client's retry; past it, for a theft.
    time.sleep(past_the_reuse_grace)
    return cast.answered(instance_apis[ORDINALS[which]].refresh(actor.spent_refresh[0]))


@then("the replay is refused")
def replay_refused(reply: httpx.Response) -> None:
    assert reply.status_code == 401, describe(reply)


@then(
    parsers.re(
        rf"^{WHOSE} latest refresh token no longer works on the (?P<which>{ORDINAL}) instance$"
    )
)
def latest_revoked_on(cast: Cast, instance_apis: list[TaskHubClient], who: str, which: str) -> None:
    response = instance_apis[ORDINALS[which]].refresh(cast[who].require_refresh())
    assert response.status_code == 401, f"the session lives on; {describe(response)}"


# --- the relays and the reminder scan --------------------------------------------------


@given(parsers.re(rf"^{WHO} has (?P<count>\d+) tasks, created in turn through each instance$"))
def tasks_through_each(
    cast: Cast, instance_apis: list[TaskHubClient], task_book: TaskBook, who: str, count: str
) -> None:
    for number in range(int(count)):
        client = instance_apis[number % len(instance_apis)]
        reply = create_task(client, cast[who], task_book, title=f"Relayed {number + 1}")
        expect_status(reply, 201)


@when(parsers.re(rf"^{WHO} marks each of them done, in turn through each instance$"))
def done_through_each(
    cast: Cast, instance_apis: list[TaskHubClient], task_book: TaskBook, who: str
) -> None:
    actor = cast[who]
    for number, task in enumerate(task_book.owned_by(actor)):
        client = instance_apis[number % len(instance_apis)]
        expect_status(mark_done(client, actor, task_book, [task["id"]], bulk=False), 200)


def notifications_per_task(api: TaskHubClient, actor: Actor, kind: str) -> Counter[str]:
    items, total = task_jobs(api, actor, kind=kind)
    assert total == len(items), f"more {kind} jobs than one page: {total}"
    return Counter(str(item["task_id"]) for item in items)


@then("none of them is announced a second time while every relay has had its turn")
def announced_once_for_good(cast: Cast, api: TaskHubClient) -> None:
    # Holds for a while, polled: a second relay sending the same event would show here.
    deadline = time.monotonic() + RELAY_SETTLE_SECONDS
    while True:
        twice = {
            task: n
            for task, n in notifications_per_task(api, cast["she"], "task_done").items()
            if n > 1
        }
        assert not twice, f"announced more than once: {twice}"
        if time.monotonic() >= deadline:
            return
        time.sleep(POLL_SECONDS)


@given(
    parsers.re(
        rf"^{WHO} has (?P<count>\d+) tasks whose reminders are due in (?P<seconds>\d+) seconds$"
    )
)
def tasks_with_reminders(
    cast: Cast,
    api: TaskHubClient,
    task_book: TaskBook,
    notify_timing: NotifyTiming,
    who: str,
    count: str,
    seconds: str,
) -> None:
    due_at = datetime.now(UTC) + notify_timing.reminder_lead + timedelta(seconds=int(seconds))
    for number in range(int(count)):
        reply = create_task(
            api, cast[who], task_book, title=f"Deadline {number + 1}", due_at=iso(due_at)
        )
        expect_status(reply, 201)


@then("each of them is reminded of exactly once, before its deadline")
def reminded_once_each(
    cast: Cast, api: TaskHubClient, task_book: TaskBook, notify_timing: NotifyTiming
) -> None:
    actor = cast["she"]
    tasks = {task["id"]: task for task in task_book.owned_by(actor)}
    due_at = min(parse_time(task["due_at"]) for task in tasks.values())
    remind_at = due_at - notify_timing.reminder_lead
    seconds = (remind_at - datetime.now(UTC)).total_seconds()
    seconds += notify_timing.reminder_scan_seconds + DELIVERY_SECONDS
    items = wait_for_task_jobs(api, actor, len(tasks), seconds, kind="reminder")
    late = [item for item in items if parse_time(item["updated_at"]) >= due_at]
    assert not late, f"reminded after the deadline: {late}"
    # Two more scans by the one beat, with every worker consuming: still one each.
    deadline = time.monotonic() + 2 * notify_timing.reminder_scan_seconds
    while True:
        per_task = notifications_per_task(api, actor, "reminder")
        assert set(per_task) == set(tasks), f"reminders for {sorted(per_task)} of {sorted(tasks)}"
        twice = {task: n for task, n in per_task.items() if n > 1}
        assert not twice, f"reminded more than once: {twice}"
        if time.monotonic() >= deadline:
            return
        time.sleep(POLL_SECONDS)


# --- a rolling restart under load ------------------------------------------------------


@dataclass
class LoadRecord:
    """What the clients of the load saw: (method, status or error name, Retry-After sent)."""

    answers: list[tuple[str, str, bool]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, method: str, outcome: str, retry_after: bool) -> None:
        with self.lock:
            self.answers.append((method, outcome, retry_after))

    def of(self, method: str) -> list[tuple[str, bool]]:
        return [(outcome, retry) for m, outcome, retry in self.answers if m == method]


@pytest.fixture
def load_record() -> LoadRecord:
    return LoadRecord()


def keep_using(
    base_url: str, actor: Actor, prefix: str, record: LoadRecord, stop: threading.Event
) -> None:
    """List and create tasks through the gateway until `stop`, recording every answer.

    A client of its own: hundreds of exchanges would drown the scenario's report, and the
    figures summarise them.
    """
    token = actor.require_access()
    next_create = time.monotonic()
    with TaskHubClient(base_url, ExchangeLog(), request_id_prefix=prefix) as client:
        while not stop.is_set():
            methods = ["GET"]
            if time.monotonic() >= next_create:
                next_create += LOAD_CREATE_EVERY_SECONDS
                methods.append("POST")
            for method in methods:
                try:
                    if method == "GET":
                        response = client.list_tasks(token, limit=20)
                    else:
                        response = client.create_task(token, title="Under load")
                except httpx.HTTPError as error:
                    record.add(method, type(error).__name__, False)
                    continue
                record.add(method, str(response.status_code), "retry-after" in response.headers)
            time.sleep(LOAD_LIST_EVERY_SECONDS)


@when(
    parsers.re(
        r"^the instances of the task service are restarted one at a time while "
        rf"{NAMES} keep listing and creating tasks through the gateway$"
    )
)
def rolling_restart_under_load(
    cast: Cast,
    api: TaskHubClient,
    target: Target,
    identities: IdentityFactory,
    native_stack: NativeStack,
    chaos: Chaos,
    load_record: LoadRecord,
    figures: dict[str, str],
    names: str,
) -> None:
    people = [cast[name] for name in names.replace(" and ", ", ").split(", ")]
    for actor in people:
        ensure_signed_in(api, actor)
    # `task-svc-1`, `task-svc-2`: each instance alone (`task-svc` would mean them all).
    programs = sorted(
        (name for name in native_stack.status() if split_instance(name)[0] == "task-svc"),
        key=lambda name: split_instance(name)[1],
    )
    instances = [explicit_name(name) for name in programs]
    pids_before = {name: native_stack.status()[name].pid for name in programs}
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=keep_using,
            args=(target.base_url, actor, identities.request_id_prefix(), load_record, stop),
        )
        for actor in people
    ]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    try:
        time.sleep(LOAD_MARGIN_SECONDS)
        # What `taskhub-stack restart task-svc` does, through `chaos` so that an instance
        # is started again whatever happens.
        for number, name in enumerate(instances):
            if number:
                time.sleep(REJOIN_SECONDS)  # as `restart` waits for the gateway
            chaos.stop(name)
            chaos.start(name)
        time.sleep(LOAD_MARGIN_SECONDS)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    restarted = {name: native_stack.status()[name].pid for name in programs}
    assert all(restarted[n] != pids_before[n] for n in programs), (pids_before, restarted)
    outcomes = Counter(f"{method} {outcome}" for method, outcome, _ in load_record.answers)
    figures["instances restarted"] = ", ".join(instances)
    figures["restart and load"] = f"{time.monotonic() - started:.1f} s"
    figures["requests"] = str(len(load_record.answers))
    figures["answers"] = ", ".join(f"{key}: {n}" for key, n in sorted(outcomes.items()))
    failed = sum(n for key, n in outcomes.items() if key not in ("GET 200", "POST 201"))
    figures["errors seen"] = str(failed)


@then("every list they asked for was answered")
def every_list_answered(load_record: LoadRecord) -> None:
    lists = load_record.of("GET")
    failed = Counter(outcome for outcome, _ in lists if outcome != "200")
    assert lists, "no list was asked for"
    assert not failed, f"{sum(failed.values())} of {len(lists)} lists failed: {dict(failed)}"


@then("every task they created was either created or refused in a way the client retries")
def creations_created_or_retried(load_record: LoadRecord) -> None:
    creations = load_record.of("POST")
    lost = Counter(
        outcome
        for outcome, retry_after in creations
        if outcome != "201" and not (retry_after and outcome in RETRIED_STATUSES)
    )
    assert creations, "no task was created"
    assert not lost, f"{sum(lost.values())} of {len(creations)} creations lost: {dict(lost)}"
