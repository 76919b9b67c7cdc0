"""Steps of features/outages.feature: a dependency outage is a 503, and everything recovers."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pytest_bdd import given, parsers, then, when

from taskhub_e2e.actors import Actor, Cast
from taskhub_e2e.chaos import Chaos, wait_until
from taskhub_e2e.client import Service, TaskHubClient
from taskhub_e2e.outcomes import describe
from taskhub_e2e.people import strong_password
from taskhub_e2e.stack.native import NativeStack
from taskhub_e2e.steps.notifications import EVENT_SECONDS, task_jobs
from taskhub_e2e.taskbook import TaskBook

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
def recovers(cast: Cast, api: TaskHubClient, holdings: Holdings, who: str, seconds: str) -> None:
    actor = cast[who]
    # Polled with reads only: writes on every poll would run into the creation limit.
    reads = ("/tasks", f"/tasks/{holdings.task_id}", "/notify/jobs", "/auth/me")

    def all_answer() -> bool:
        return all(_sent(api, actor, "GET", path).status_code == 200 for path in reads)

    assert wait_until(all_answer, float(seconds)), "TaskHub did not recover from the outage"
    for reply in every_part(api, actor, holdings):
        assert reply.status_code in (200, 201, 202), describe(reply)


@when(
    parsers.re(
        r"^the master process of (?:the )?(?P<service>auth|tasks?|notify) service is killed$"
    )
)
def master_killed(native_stack: NativeStack, api: TaskHubClient, service: str) -> None:
    named = Service.named(service)
    master = native_stack.status()[named.program].pid
    workers = _children(master)
    os.kill(master, signal.SIGKILL)
    # Its workers die with it (else they would hold the port and the new master could not
    # bind); supervisord starts a new master.
    assert wait_until(lambda: not any(_alive(pid) for pid in workers), 5.0), "workers outlived it"


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
