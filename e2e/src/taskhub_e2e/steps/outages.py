"""Steps of features/outages.feature: a dependency outage is a 503, and everything recovers."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from pytest_bdd import given, parsers, then, when

from taskhub_e2e.actors import ADMINISTRATOR, Actor, Cast
from taskhub_e2e.chaos import Chaos, wait_until
from taskhub_e2e.client import Service, TaskHubClient
from taskhub_e2e.outcomes import describe
from taskhub_e2e.people import strong_password
from taskhub_e2e.steps.auth import ensure_signed_in
from taskhub_e2e.steps.notifications import EVENT_SECONDS, task_jobs
from taskhub_e2e.taskbook import TaskBook
from taskhub_stack.backup import Database, pg_tool
from taskhub_stack.native import NativeStack

WHO = r"(?P<who>[A-Z][a-z]+|she|he|they)"
HER = r"(?:her|his|their)"
DATABASE_PROGRAM = "postgres"


@dataclass
class Holdings:
    """What the actor made before the outage: ids that reach each service's stored data."""

    task_id: str
    job_id: str


def _sent(
    api: TaskHubClient, actor: Actor, method: str, path: str, json: Any = None
) -> httpx.Response:
    return api.request(method, path, token=actor.require_access(), json=json)


@given(
    parsers.re(rf"^{WHO} keeps a task and a notification from before the outage$"),
    target_fixture="holdings",
)
def keeps_task_and_job(cast: Cast, api: TaskHubClient, who: str) -> Holdings:
    actor = cast[who]
    task = _sent(api, actor, "POST", "/tasks", json={"title": "Before the outage"})
    job = _sent(
        api,
        actor,
        "POST",
        "/notify/email",
        json={"to": actor.person.email, "subject": "Before", "body": "Before the outage."},
    )
    assert task.status_code == 201, describe(task)
    assert job.status_code == 202, describe(job)
    return Holdings(task_id=str(task.json()["id"]), job_id=str(job.json()["id"]))


@given("the databases are down")
def databases_down(chaos: Chaos, api: TaskHubClient) -> None:
    chaos.stop(DATABASE_PROGRAM)
    assert wait_until(lambda: api.request("GET", "/tasks/readyz").status_code == 503, 15.0)


@when("the databases are started again")
def databases_started(chaos: Chaos) -> None:
    chaos.start(DATABASE_PROGRAM)


def every_part(api: TaskHubClient, actor: Actor, holdings: Holdings) -> list[httpx.Response]:
    """One request of each kind a user makes, on each service (reads and writes)."""
    task = f"/tasks/{holdings.task_id}"
    stranger = f"outage-{secrets.token_hex(4)}@example.com"
    return [
        _sent(api, actor, "GET", "/tasks"),
        _sent(api, actor, "POST", "/tasks", json={"title": "During the outage"}),
        _sent(api, actor, "GET", task),
        _sent(api, actor, "PATCH", task, json={"status": "in_progress"}),
        _sent(
            api,
            actor,
            "POST",
            "/tasks/bulk-status",
            json={"ids": [holdings.task_id], "status": "todo"},
        ),
        _sent(api, actor, "GET", "/notify/jobs"),
        _sent(api, actor, "GET", f"/notify/jobs/{holdings.job_id}"),
        _sent(
            api, actor, "POST", "/notify/email", json={"to": stranger, "subject": "s", "body": "b"}
        ),
        _sent(api, actor, "GET", "/auth/me"),
        api.request(
            "POST",
            "/auth/login",
            json={"email": actor.person.email, "password": actor.person.password},
        ),
        api.request(
            "POST",
            "/auth/register",
            json={"email": stranger, "password": strong_password(), "name": "Outage"},
        ),
    ]


@when(parsers.re(rf"^{WHO} uses every part of TaskHub$"), target_fixture="outage_replies")
def uses_every_part(
    cast: Cast, api: TaskHubClient, holdings: Holdings, who: str
) -> list[httpx.Response]:
    return every_part(api, cast[who], holdings)


@then("every answer asks her to retry later, none is an internal error")
def told_to_retry(outage_replies: list[httpx.Response]) -> None:
    for reply in outage_replies:
        assert reply.status_code == 503, describe(reply)
        assert reply.headers.get("retry-after", "").isdigit(), describe(reply)
        assert reply.json()["error"]["code"] == "SERVICE_UNAVAILABLE", describe(reply)


@then(parsers.re(rf"^every part of TaskHub answers {WHO} again within (?P<seconds>\d+) seconds$"))
def recovers(
    cast: Cast,
    api: TaskHubClient,
    holdings: Holdings,
    figures: dict[str, str],
    who: str,
    seconds: str,
) -> None:
    actor, began = cast[who], time.monotonic()
    # Polled with reads only: writes on every poll would run into the creation limit.
    reads = ("/tasks", f"/tasks/{holdings.task_id}", "/notify/jobs", "/auth/me")

    def all_answer() -> bool:
        return all(_sent(api, actor, "GET", path).status_code == 200 for path in reads)

    assert wait_until(all_answer, float(seconds)), "TaskHub did not recover from the outage"
    figures["every service answers again after PostgreSQL is up"] = (
        f"{time.monotonic() - began:.1f} s"
    )
    for reply in every_part(api, actor, holdings):
        assert reply.status_code in (200, 201, 202), describe(reply)


@when(
    parsers.re(
        r"^the master process of (?:the )?(?P<service>auth|tasks?|notify) service is killed$"
    )
)
def master_killed(native_stack: NativeStack, figures: dict[str, str], service: str) -> None:
    named = Service.named(service)
    master = native_stack.status()[named.program].pid
    workers = _children(master)
    killed = time.monotonic()
    os.kill(master, signal.SIGKILL)
    # Its workers die with it (else they would hold the port and the new master could not
    # bind); supervisord starts a new master.
    assert wait_until(lambda: not any(_alive(pid) for pid in workers), 5.0), "workers outlived it"
    figures["its workers gone after"] = f"{time.monotonic() - killed:.2f} s"


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@then(parsers.re(rf"^{WHO} can list (?:her|his|their) tasks$"))
def can_list(cast: Cast, api: TaskHubClient, who: str) -> None:
    reply = _sent(api, cast[who], "GET", "/tasks")
    assert reply.status_code == 200, describe(reply)


# --- a notification outage: the backlog drains within seconds of its end ---------------

NOTIFY_PROGRAM = "notify-svc"


@dataclass
class Outage:
    began: float
    ended: float | None = None


@given("notifications are down", target_fixture="outage")
def notifications_down(chaos: Chaos, api: TaskHubClient) -> Outage:
    chaos.stop(NOTIFY_PROGRAM)
    assert wait_until(lambda: api.request("GET", "/notify/healthz").status_code != 200, 10.0)
    return Outage(began=time.monotonic())


@when(parsers.re(r"^notifications come back after (?P<seconds>\d+) seconds of outage$"))
def notifications_back(chaos: Chaos, outage: Outage, seconds: str) -> None:
    time.sleep(max(0.0, outage.began + float(seconds) - time.monotonic()))
    chaos.start(NOTIFY_PROGRAM)  # returns once notify-svc answers its health check
    outage.ended = time.monotonic()


@then(
    parsers.re(
        rf"^each of {HER} (?P<count>\d+) done tasks is announced to {HER} once, "
        r"within (?P<seconds>\d+) seconds of their return$"
    )
)
def announced_after_outage(
    cast: Cast,
    api: TaskHubClient,
    task_book: TaskBook,
    outage: Outage,
    figures: dict[str, str],
    count: str,
    seconds: str,
) -> None:
    actor, expected = cast["she"], int(count)
    assert outage.ended is not None, "notifications never came back"
    done = {task["id"] for task in task_book.owned_by(actor) if task["status"] == "done"}
    assert len(done) == expected, f"{len(done)} tasks are done, not {expected}"

    def announced() -> list[dict[str, Any]]:
        items, _total = task_jobs(api, actor, kind="task_done")
        return items

    all_there = wait_until(lambda: {job["task_id"] for job in announced()} >= done, 30.0)
    drained = time.monotonic() - outage.ended
    figures[f"{expected} events accepted by notify-svc after its return"] = f"{drained:.1f} s"
    delivered = wait_until(lambda: all(job["status"] == "ok" for job in announced()), EVENT_SECONDS)
    figures[f"{expected} e-mails delivered after its return"] = (
        f"{time.monotonic() - outage.ended:.1f} s"
    )
    jobs = announced()
    assert all_there, f"{len({j['task_id'] for j in jobs} & done)} of {expected} announced"
    assert len(jobs) == expected, f"{len(jobs)} notifications for {expected} tasks: some twice"
    assert delivered, f"not all delivered: {[j for j in jobs if j['status'] != 'ok'][:3]}"
    assert drained <= float(seconds), f"the backlog took {drained:.1f} s after the outage"


# --- a poison event: parked, and no longer in the way ---------------------------------


@dataclass
class Poison:
    event_id: str
    task_id: str
    other_task_id: str = ""


def _insert_refused_event(stack: NativeStack, task_id: str) -> str:
    """Write an event notify-svc cannot accept straight into task-svc's outbox (the fault
    injected: no request through the API can produce one any more)."""
    event_id = str(uuid.uuid4())
    database = Database.from_url(stack.env()["TASKS_DATABASE_URL"])
    payload = json.dumps({"event_id": event_id, "type": "task.unheard_of"})
    # psql quotes the values itself (:'name'); the statement comes on standard input.
    statement = (
        "INSERT INTO outbox (id, event_type, task_id, payload) "
        "VALUES (:'event_id', 'task.done', :'task_id', :'payload'::jsonb);"
    )
    values = {"event_id": event_id, "task_id": str(uuid.UUID(task_id)), "payload": payload}
    variables = [f"--set={name}={value}" for name, value in values.items()]
    subprocess.run(
        [pg_tool("psql"), "-v", "ON_ERROR_STOP=1", "-q", *variables, *database.connection_args()],
        input=statement,
        text=True,
        env=database.environment(),
        check=True,
    )
    return event_id


@given(
    parsers.re(rf"^{WHO} has a task whose pending event notify-svc refuses$"),
    target_fixture="poison",
)
def task_with_refused_event(
    cast: Cast, api: TaskHubClient, native_stack: NativeStack, who: str
) -> Poison:
    task = _sent(api, cast[who], "POST", "/tasks", json={"title": "Poisoned"})
    assert task.status_code == 201, describe(task)
    task_id = str(task.json()["id"])
    return Poison(event_id=_insert_refused_event(native_stack, task_id), task_id=task_id)


@when(parsers.re(rf"^{WHO} completes that task and another one$"))
def completes_both(cast: Cast, api: TaskHubClient, poison: Poison, who: str) -> None:
    actor = cast[who]
    other = _sent(api, actor, "POST", "/tasks", json={"title": "Healthy"})
    assert other.status_code == 201, describe(other)
    poison.other_task_id = str(other.json()["id"])
    for task_id in (poison.task_id, poison.other_task_id):
        done = _sent(api, actor, "PATCH", f"/tasks/{task_id}", json={"status": "done"})
        assert done.status_code == 200, describe(done)


@then("both completions are announced to her")
def both_announced(cast: Cast, api: TaskHubClient, poison: Poison, figures: dict[str, str]) -> None:
    actor, began = cast["she"], time.monotonic()
    wanted = {poison.task_id, poison.other_task_id}

    def delivered() -> set[str]:
        items, _total = task_jobs(api, actor, kind="task_done")
        return {job["task_id"] for job in items if job["status"] == "ok"}

    assert wait_until(lambda: delivered() >= wanted, EVENT_SECONDS), (
        f"announced: {delivered() & wanted} of {wanted}"
    )
    figures["both completions delivered after"] = f"{time.monotonic() - began:.1f} s"


@then("the administrator sees the refused event parked, with notify-svc's answer")
def parked_for_admin(cast: Cast, api: TaskHubClient, poison: Poison) -> None:
    admin = cast[ADMINISTRATOR]
    reply = _sent(api, admin, "GET", "/tasks/outbox/parked", json=None)
    assert reply.status_code == 200, describe(reply)
    parked = {item["id"]: item for item in reply.json()["items"]}
    assert poison.event_id in parked, describe(reply)
    assert parked[poison.event_id]["last_error"] == "HTTP 422", parked[poison.event_id]


# --- a database restart under a burst of writes ------------------------------------------

# Under the 60-a-minute creation limit, so every refusal is the outage's doing.
CREATIONS_PER_CLIENT = 25
# Each client paces itself, so that it is still writing when the database goes away
# however fast the stack answers (a burst that finished before the stop tests nothing).
SECONDS_BETWEEN_CREATIONS = 0.3
SECONDS_BEFORE_THE_STOP = 1.5
SECONDS_STOPPED = 2.0
SECONDS_AFTER_THE_RESTART = 1.5


@dataclass
class Burst:
    people: list[Actor]
    statuses: list[int]


@given(
    parsers.re(r"^(?P<names>[A-Z][a-z]+(?:, [A-Z][a-z]+)* and [A-Z][a-z]+) have signed in$"),
    target_fixture="people",
)
def people_signed_in(cast: Cast, api: TaskHubClient, names: str) -> list[Actor]:
    people = [cast[name] for name in names.replace(" and ", ", ").split(", ")]
    for actor in people:
        ensure_signed_in(api, actor)
    return people


def _create_and_complete(api: TaskHubClient, actor: Actor, restarted: threading.Event) -> list[int]:
    statuses = []
    stop_after: float | None = None
    for number in range(CREATIONS_PER_CLIENT):
        began = time.monotonic()
        if restarted.is_set():
            stop_after = stop_after or began + SECONDS_AFTER_THE_RESTART
            if began >= stop_after:
                break
        created = _sent(api, actor, "POST", "/tasks", json={"title": f"Burst {number}"})
        statuses.append(created.status_code)
        if created.status_code == 201:
            done = _sent(
                api, actor, "PATCH", f"/tasks/{created.json()['id']}", json={"status": "done"}
            )
            statuses.append(done.status_code)
        time.sleep(max(0.0, began + SECONDS_BETWEEN_CREATIONS - time.monotonic()))
    return statuses


@when(
    "they create tasks and complete them, four at once, while the databases restart",
    target_fixture="burst",
)
def burst_through_a_restart(
    chaos: Chaos, api: TaskHubClient, people: list[Actor], figures: dict[str, str]
) -> Burst:
    restarted = threading.Event()
    with ThreadPoolExecutor(max_workers=len(people)) as pool:
        clients = [pool.submit(_create_and_complete, api, actor, restarted) for actor in people]
        time.sleep(SECONDS_BEFORE_THE_STOP)
        chaos.stop(DATABASE_PROGRAM)
        time.sleep(SECONDS_STOPPED)
        chaos.start(DATABASE_PROGRAM)
        restarted.set()
        statuses = [status for client in clients for status in client.result()]
    counted = Counter(statuses)
    figures["answers during the burst"] = ", ".join(
        f"{status}: {count}" for status, count in sorted(counted.items())
    )
    return Burst(people=people, statuses=statuses)


@then("no answer was an internal error")
def no_internal_error(burst: Burst) -> None:
    assert 503 in burst.statuses, "the restart fell outside the burst: nothing was tested"
    errors = [status for status in burst.statuses if status >= 500 and status != 503]
    assert not errors, f"server errors other than 503: {Counter(errors)}"


@then("every task that ended done is announced to its owner exactly once")
def each_done_task_announced_once(
    api: TaskHubClient, burst: Burst, figures: dict[str, str]
) -> None:
    began = time.monotonic()
    for actor in burst.people:
        # What committed is what the owner sees now, whatever answer the client got.
        listed = api.request(
            "GET",
            "/tasks",
            token=actor.require_access(),
            params={"status": "done", "limit": CREATIONS_PER_CLIENT},
        )
        assert listed.status_code == 200, describe(listed)
        done = {task["id"] for task in listed.json()["items"]}

        wait_until(partial(_all_delivered, api, actor, done), EVENT_SECONDS)
        jobs, _total = task_jobs(api, actor, kind="task_done")
        per_task = Counter(job["task_id"] for job in jobs)
        assert set(per_task) == done, f"{actor.name}: announced {set(per_task) ^ done} wrongly"
        assert all(count == 1 for count in per_task.values()), f"twice: {per_task}"
        assert all(job["status"] == "ok" for job in jobs), [j for j in jobs if j["status"] != "ok"]
    figures["all done tasks announced after the burst"] = f"{time.monotonic() - began:.1f} s"


def _all_delivered(api: TaskHubClient, actor: Actor, task_ids: set[str]) -> bool:
    items, _total = task_jobs(api, actor, kind="task_done")
    return {job["task_id"] for job in items if job["status"] == "ok"} >= task_ids
