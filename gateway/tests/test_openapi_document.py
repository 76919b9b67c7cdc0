"""The gateway's merged OpenAPI document: valid, complete, clean, and what the code makes."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from openapi_spec_validator import validate

from taskhub_common.errors import HTTP_METHODS
from taskhub_common.openapi import (
    SERVICE_APPS,
    document_problems,
    gateway_files,
    load_app,
)

PUBLIC_DIR = Path(__file__).resolve().parents[1] / "public"
# Each service's routers, read from the code rather than from its document (the probes and
# docs pages come from taskhub_common.app, not from these).
SERVICE_ROUTERS = {
    "auth": "auth_svc.api.routers",
    "tasks": "task_svc.api.routers",
    "notify": "notify_svc.api.routers",
}


def _committed() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((PUBLIC_DIR / "openapi.json").read_text())
    return document


def _public_routes() -> list[tuple[str, str, str]]:
    """(service, METHOD, path) of every route of the services' routers but the internal ones."""
    return [
        (service, method, route.path)
        for service, module in SERVICE_ROUTERS.items()
        for router in importlib.import_module(module).ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute) and route.include_in_schema
        for method in sorted(route.methods or ())
    ]


def test_the_routers_are_those_of_the_merged_services() -> None:
    assert set(SERVICE_ROUTERS) == set(SERVICE_APPS)
    assert len(_public_routes()) > 20


def test_the_merged_document_is_valid_openapi() -> None:
    validate(_committed())


def test_the_committed_files_are_what_the_code_makes() -> None:
    for name, text in gateway_files().items():
        assert (PUBLIC_DIR / name).read_text() == text, f"run `uv run nox -s client` ({name})"


@pytest.mark.parametrize(("service", "method", "path"), _public_routes())
def test_every_public_route_is_in_the_merged_document(service: str, method: str, path: str) -> None:
    operation = _committed()["paths"].get(path, {}).get(method.lower())
    assert operation is not None, f"{method} {path} of {service} is missing"


def test_nothing_else_is_in_it() -> None:
    published = {
        (method.upper(), path)
        for path, item in _committed()["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert published == {(method, path) for _, method, path in _public_routes()}
    assert not [path for _, path in published if "internal" in path or "healthz" in path]


def test_it_has_clean_operation_ids_and_envelope_errors() -> None:
    assert document_problems(_committed()) == []


def test_shared_schemas_appear_once_and_the_gateway_is_the_server() -> None:
    document = _committed()
    schemas = document["components"]["schemas"]
    assert "ErrorResponse" in schemas
    assert not [
        name for name in schemas if name.endswith("ErrorResponse") and name != "ErrorResponse"
    ]
    assert document["servers"] == [{"url": "/", "description": "The TaskHub gateway"}]
    assert set(document["components"]["securitySchemes"]) >= {"HTTPBearer", "ApiKeyHeader"}


# --- each service's own document (served at /{svc}/openapi.json) ------------------------


def _service_document(service: str) -> dict[str, Any]:
    document: dict[str, Any] = load_app(SERVICE_APPS[service]).openapi()
    return document


def _service_operations() -> list[tuple[str, str, str]]:
    return [
        (service, path, method)
        for service in SERVICE_APPS
        for path, item in _service_document(service)["paths"].items()
        for method in item
        if method in HTTP_METHODS
    ]


@pytest.mark.parametrize(("service", "path", "method"), _service_operations())
def test_each_operation_of_each_service_is_named_and_documents_its_errors(
    service: str, path: str, method: str
) -> None:
    operation = _service_document(service)["paths"][path][method]
    assert document_problems({"paths": {path: {method: operation}}}) == []


@pytest.mark.parametrize("service", SERVICE_APPS)
def test_no_two_operations_of_a_service_share_an_id_and_none_is_internal(service: str) -> None:
    document = _service_document(service)
    assert document_problems(document) == []
    assert not [path for path in document["paths"] if "/internal" in path]
