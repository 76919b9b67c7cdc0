"""Operation ids, the document check, and the gateway's merged document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel

from taskhub_common.errors import error_responses
from taskhub_common.openapi import (
    document_problems,
    gateway_files,
    load_app,
    main,
    merge_documents,
    operation_id,
)


class Item(BaseModel):
    name: str


def _app(**fastapi: Any) -> FastAPI:
    app = FastAPI(**fastapi)
    router = APIRouter(prefix="/demo", tags=["demo-items"])

    @router.get("/items", name="list", responses=error_responses(401, 422))
    async def list_items() -> list[Item]:
        return []

    @router.post("/items", responses=error_responses(422))
    async def create_item(item: Item) -> Item:
        return item

    app.include_router(router)
    return app


def test_operation_ids_are_the_tag_and_the_route_name() -> None:
    document = _app(generate_unique_id_function=operation_id).openapi()
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert ids == ["demo_items.list", "demo_items.create_item"]
    assert document_problems(document) == []


def test_fastapis_own_ids_are_problems() -> None:
    problems = document_problems(_app().openapi())
    assert "GET /demo/items: operationId 'list_demo_items_get' is not `tag.action`" in problems


def _operation(**fields: Any) -> dict[str, Any]:
    return {"operationId": "demo.read", "responses": {"200": {}}, **fields}


def test_a_duplicate_id_is_a_problem() -> None:
    document = {"paths": {"/a": {"get": _operation()}, "/b": {"get": _operation()}}}
    assert document_problems(document) == ["GET /b: operationId 'demo.read' is also GET /a"]


def test_an_error_response_other_than_the_envelope_is_a_problem() -> None:
    schema = {"$ref": "#/components/schemas/HTTPValidationError"}
    response = {"content": {"application/json": {"schema": schema}}}
    document = {"paths": {"/a": {"get": _operation(responses={"422": response})}}}
    assert document_problems(document) == ["GET /a: response 422 is not the error envelope"]


def test_an_operation_needing_credentials_must_declare_401() -> None:
    document = {"paths": {"/a": {"get": _operation(security=[{"Bearer": []}])}}}
    assert document_problems(document) == ["GET /a: needs credentials but does not declare 401"]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _service(path: str, schemas: dict[str, Any], scheme: dict[str, Any]) -> dict[str, Any]:
    answer = {"content": {"application/json": {"schema": _ref("Page")}}}
    return {
        "paths": {
            path: {
                "get": {
                    "operationId": "x.list",
                    "security": [{"Bearer": []}],
                    "responses": {"200": answer},
                },
                "parameters": [],
            },
            f"{path}/healthz": {"get": {"tags": ["health"], "responses": {"200": {}}}},
        },
        "components": {"schemas": schemas, "securitySchemes": {"Bearer": scheme}},
    }


ENVELOPE = {"type": "object", "properties": {"error": {"type": "object"}}}
BEARER = {"type": "http", "scheme": "bearer"}


def test_merging_keeps_identical_components_once_and_prefixes_different_ones() -> None:
    auth = _service(
        "/auth/items",
        {"ErrorResponse": ENVELOPE, "Page": {"items": _ref("Item")}, "Item": {"type": "string"}},
        BEARER,
    )
    tasks = _service(
        "/tasks/items",
        {"ErrorResponse": ENVELOPE, "Page": {"items": _ref("Item")}, "Item": {"type": "integer"}},
        {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    )
    for service in (auth, tasks):
        get = next(iter(service["paths"].values()))["get"]
        get["responses"]["401"] = {
            "content": {"application/json": {"schema": _ref("ErrorResponse")}}
        }
    merged = merge_documents({"auth": auth, "tasks": tasks})
    schemas = merged["components"]["schemas"]
    # Item differs, so Page (identical text, different meaning) differs too once renamed.
    assert set(schemas) == {"ErrorResponse", "Page", "Item", "TasksPage", "TasksItem"}
    assert schemas["TasksPage"] == {"items": _ref("TasksItem")}
    assert set(merged["components"]["securitySchemes"]) == {"Bearer", "TasksBearer"}
    tasks_get = merged["paths"]["/tasks/items"]["get"]
    assert tasks_get["security"] == [{"TasksBearer": []}]
    assert tasks_get["responses"]["200"]["content"]["application/json"]["schema"] == _ref(
        "TasksPage"
    )
    assert merged["servers"] == [{"url": "/", "description": "The TaskHub gateway"}]


def test_merging_leaves_probes_and_the_schemas_only_they_use_out() -> None:
    auth = _service("/auth/items", {"Page": {}, "Health": {}}, BEARER)
    auth["paths"]["/auth/items/healthz"]["get"]["responses"]["200"] = {"schema": _ref("Health")}
    merged = merge_documents({"auth": auth})
    assert list(merged["paths"]) == ["/auth/items"]
    assert list(merged["components"]["schemas"]) == ["Page"]


def test_two_services_offering_one_path_cannot_merge() -> None:
    with pytest.raises(ValueError, match="/same is offered by two services"):
        merge_documents(
            {"auth": _service("/same", {}, BEARER), "tasks": _service("/same", {}, BEARER)}
        )


def test_load_app_refuses_what_is_not_an_app() -> None:
    with pytest.raises(TypeError, match="is not a FastAPI app"):
        load_app("taskhub_common.openapi:PROBE_TAG")


def test_the_gateway_files_merge_the_three_services() -> None:
    files = gateway_files()
    document = json.loads(files["openapi.json"])
    prefixes = {path.split("/")[1] for path in document["paths"]}
    assert prefixes == {"auth", "tasks", "notify"}
    assert document_problems(document) == []
    assert '"/openapi.json"' in files["docs.html"] or "'/openapi.json'" in files["docs.html"]
    assert "cdn.jsdelivr.net" not in files["docs.html"]


def test_main_writes_the_files_then_check_passes(tmp_path: Path) -> None:
    assert main(["--output", str(tmp_path), "--check"]) == 1
    assert main(["--output", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["docs.html", "openapi.json"]
    assert main(["--output", str(tmp_path), "--check"]) == 0


def test_check_fails_when_the_committed_document_drifts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["--output", str(tmp_path)])
    (tmp_path / "openapi.json").write_text("{}\n")
    assert main(["--output", str(tmp_path), "--check"]) == 1
    assert "openapi.json" in capsys.readouterr().err
