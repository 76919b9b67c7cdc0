"""Steps of the gateway's API description and of TaskHub's own Python client."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from pytest_bdd import parsers, then, when

from taskhub_client import TaskHubError
from taskhub_client.generated.api.auth import auth_register
from taskhub_client.generated.api.tasks import tasks_create, tasks_get, tasks_list, tasks_update
from taskhub_client.generated.models.register_request import RegisterRequest
from taskhub_client.generated.models.task_create import TaskCreate
from taskhub_client.generated.models.task_read import TaskRead
from taskhub_client.generated.models.task_status import TaskStatus
from taskhub_client.generated.models.task_update import TaskUpdate
from taskhub_e2e.actors import Cast
from taskhub_e2e.client import Service, TaskHubClient
from taskhub_e2e.outcomes import describe, json_body
from taskhub_e2e.python_client import python_session

WHO = r"(?P<who>[A-Z][a-z]+|she|he|they)"
METHODS = frozenset({"get", "put", "post", "delete", "patch"})
# `tag.action`; FastAPI's own ids (`list_tasks_tasks_get`) have no dot.
OPERATION_ID = re.compile(r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*")
ENVELOPE = "#/components/schemas/ErrorResponse"


@dataclass
class PythonWork:
    """What the Python client did for the person: the task it made."""

    task: TaskRead | None = None
    notes: list[str] = field(default_factory=list)


@pytest.fixture
def python_work() -> PythonWork:
    return PythonWork()


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document.get("paths", {}).items()
        for method, operation in item.items()
        if method in METHODS
    ]


@when(
    "a developer fetches the API description of the gateway",
    target_fixture="reply",
)
def fetch_gateway_document(cast: Cast, api: TaskHubClient) -> httpx.Response:
    return cast.answered(api.request("GET", "/openapi.json"))


@then(parsers.re(r"^it describes every public operation of the auth, tasks and notify services$"))
def covers_every_service(api: TaskHubClient, reply: httpx.Response) -> None:
    assert reply.status_code == 200, describe(reply)
    merged = {(path, method) for path, method, _ in _operations(json_body(reply))}
    for service in Service:
        own = json_body(api.openapi(service))
        public = {
            (path, method)
            for path, method, operation in _operations(own)
            if "health" not in operation.get("tags", [])
        }
        missing = public - merged
        assert public, f"{service} publishes no operation"
        assert not missing, f"{service} operations missing: {sorted(missing)}"


@then("each operation is named for what it does and documents its errors as the envelope")
def clean_operations(reply: httpx.Response) -> None:
    ids: list[str] = []
    for path, method, operation in _operations(json_body(reply)):
        oid = str(operation.get("operationId", ""))
        assert OPERATION_ID.fullmatch(oid), f"{method.upper()} {path}: operationId {oid!r}"
        ids.append(oid)
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")):
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": ENVELOPE}, f"{method.upper()} {path} {status}: {schema}"
    assert len(ids) == len(set(ids)), "two operations share an id"
    assert {"tasks.list", "tasks.bulk_set_status", "jobs.cancel", "auth.login"} <= set(ids)


@then("it names the gateway as its server")
def gateway_server(reply: httpx.Response) -> None:
    assert json_body(reply)["servers"] == [{"url": "/", "description": "The TaskHub gateway"}]


@then("it leaves the probes and the internal routes out")
def no_probes(reply: httpx.Response) -> None:
    paths = list(json_body(reply)["paths"])
    hidden = [path for path in paths if re.search(r"/(healthz|readyz|metrics|internal)\b", path)]
    assert not hidden, hidden


@when("a developer opens the API documentation of the gateway", target_fixture="reply")
def open_docs(cast: Cast, api: TaskHubClient) -> httpx.Response:
    return cast.answered(api.request("GET", "/docs"))


@then("the page shows the gateway's API description with assets TaskHub serves itself")
def docs_page(api: TaskHubClient, reply: httpx.Response) -> None:
    assert reply.status_code == 200, describe(reply)
    assert reply.headers["content-type"].startswith("text/html")
    assert "'/openapi.json'" in reply.text or '"/openapi.json"' in reply.text, reply.text
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", reply.text)
    assert assets, reply.text
    for asset in assets:
        assert asset.startswith("/"), f"{asset} is not served by TaskHub"
        assert api.request("GET", asset).status_code == 200, asset


@when(
    parsers.re(
        rf"^{WHO} registers, signs in, creates a task and completes it with the Python client$"
    )
)
def python_flow(cast: Cast, api: TaskHubClient, python_work: PythonWork, who: str) -> None:
    person = cast[who].person
    hub, _ = python_session(api)
    with hub:
        body = RegisterRequest(email=person.email, password=person.password, name=person.name)
        cast[who].user_id = str(hub.call(auth_register.sync_detailed, body=body).id)
        cast[who].access = hub.sign_in(person.email, person.password).access
        task = hub.call(tasks_create.sync_detailed, body=TaskCreate(title="Write the report"))
        done = TaskUpdate(status=TaskStatus.DONE)
        python_work.task = hub.call(tasks_update.sync_detailed, task.id, body=done)


@then("the Python client lists his task as done")
@then("the Python client lists her task as done")
def lists_done(cast: Cast, api: TaskHubClient, python_work: PythonWork) -> None:
    assert python_work.task is not None
    hub, _ = python_session(api, cast["he"].require_access())
    with hub:
        # A page of one: the helper must walk on to find every task.
        tasks = [t for page in hub.pages(tasks_list.sync_detailed, limit=1) for t in page.items]
    assert [(t.id, t.status) for t in tasks] == [(python_work.task.id, TaskStatus.DONE)]


@then("the Python client raises a task that is not there as NOT_FOUND, with a request id")
def missing_task(cast: Cast, api: TaskHubClient) -> None:
    hub, _ = python_session(api, cast["he"].require_access())
    with hub, pytest.raises(TaskHubError) as raised:
        hub.call(tasks_get.sync_detailed, uuid.uuid4())
    error = raised.value
    assert (error.status, error.code) == (404, "NOT_FOUND"), error
    assert error.message, error
    assert error.request_id, error
