"""OpenAPI for integrators: clean operation ids, their check, and the gateway's one document.

Every service names its operations `{tag}.{route name}` (`tasks.list`, `jobs.cancel`), so
generated clients get methods named for what they do instead of FastAPI's
`<function>_<path>_<method>`. The gateway serves one document merging the three services'
(`python -m taskhub_common.openapi` builds it in-process from the apps into `gateway/public/`);
its `--check`, run in lint and the tests, fails when the committed copy drifts from the code.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import json
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.routing import APIRoute

from taskhub_common.errors import HTTP_METHODS

# `tag.action`, both snake_case: FastAPI's own ids (`list_tasks_tasks_get`) have no dot.
OPERATION_ID = re.compile(r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*")
# Liveness and readiness are for orchestrators, not integrators: not in the gateway document.
PROBE_TAG = "health"
ERROR_SCHEMA_REF = "#/components/schemas/ErrorResponse"
REF_PREFIX = "#/components/schemas/"

# The public services as the gateway routes them: path prefix -> the ASGI app.
SERVICE_APPS: dict[str, str] = {
    "auth": "auth_svc.main:app",
    "tasks": "task_svc.main:app",
    "notify": "notify_svc.main:app",
}
GATEWAY_TITLE = "TaskHub API"
GATEWAY_DESCRIPTION = (
    "Every public operation of TaskHub behind its gateway: auth (users, tokens, API keys), "
    "tasks and notifications. Errors share one envelope: "
    '`{"error": {"code", "message", "details"?, "request_id"}}`.'
)
# Relative: the document describes whichever gateway served it.
GATEWAY_SERVER = {"url": "/", "description": "The TaskHub gateway"}
# Swagger UI's assets as a service already serves them through the gateway (no CDN).
DOCS_STATIC = "/auth/docs/static"
DEFAULT_OUTPUT = Path("gateway/public")

Document = dict[str, Any]


def operation_id(route: APIRoute) -> str:
    """`{first tag}.{route name}`: the `generate_unique_id_function` of every service."""
    tag = str(route.tags[0]) if route.tags else "default"
    return f"{tag.replace('-', '_')}.{route.name}"


def _operations(document: Mapping[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document.get("paths", {}).items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]


def _error_schema_ref(response: Mapping[str, Any]) -> str | None:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    ref = schema.get("$ref")
    return str(ref) if ref is not None else None


def document_problems(document: Mapping[str, Any]) -> list[str]:
    """What keeps `document` from generating a clean client; empty when there is nothing.

    Each operation needs a `tag.action` id unique in the document, every 4xx/5xx response
    it declares must be the error envelope (the JSON every failure really is), and one that
    needs credentials must declare the 401 it answers without them.
    """
    problems: list[str] = []
    seen: dict[str, str] = {}
    for path, method, operation in _operations(document):
        where = f"{method.upper()} {path}"
        oid = str(operation.get("operationId", ""))
        if not OPERATION_ID.fullmatch(oid):
            problems.append(f"{where}: operationId {oid!r} is not `tag.action`")
        if oid in seen:
            problems.append(f"{where}: operationId {oid!r} is also {seen[oid]}")
        seen[oid] = where
        responses = operation.get("responses", {})
        if operation.get("security") and "401" not in responses:
            problems.append(f"{where}: needs credentials but does not declare 401")
        for status, response in responses.items():
            if status[:1] in {"4", "5"} and _error_schema_ref(response) != ERROR_SCHEMA_REF:
                problems.append(f"{where}: response {status} is not the error envelope")
    return problems


def _rewrite(node: Any, schema_names: Mapping[str, str]) -> Any:
    """`node` with every `$ref` to a renamed schema pointing at its new name."""
    if isinstance(node, dict):
        rewritten = {key: _rewrite(value, schema_names) for key, value in node.items()}
        ref = rewritten.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF_PREFIX):
            name = ref.removeprefix(REF_PREFIX)
            rewritten["$ref"] = REF_PREFIX + schema_names.get(name, name)
        return rewritten
    if isinstance(node, list):
        return [_rewrite(value, schema_names) for value in node]
    return node


def _rename_security(operation: dict[str, Any], scheme_names: Mapping[str, str]) -> None:
    if "security" in operation:
        operation["security"] = [
            {scheme_names.get(name, name): scopes for name, scopes in requirement.items()}
            for requirement in operation["security"]
        ]


def _clashing_names(
    ours: Mapping[str, Any],
    merged: Mapping[str, Any],
    prefix: str,
    rewrite: Callable[[Any, Mapping[str, str]], Any],
) -> dict[str, str]:
    """The names of `ours` to rename: those that exist in `merged` with another content.

    Renaming one schema changes the `$ref`s of those that use it, which can make them differ
    too; so repeat until nothing new differs.
    """
    renames: dict[str, str] = {}
    while True:
        found = {
            name: f"{prefix}{name}"
            for name, value in ours.items()
            if name in merged and merged[name] != rewrite(value, renames)
        }
        if found == renames:
            return renames
        renames = found


def _reachable_schemas(document: Mapping[str, Any]) -> set[str]:
    """The schema names the paths use, directly or through other schemas."""
    schemas = document["components"]["schemas"]
    found: set[str] = set()
    pending = [document["paths"]]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(REF_PREFIX):
                name = ref.removeprefix(REF_PREFIX)
                if name not in found:
                    found.add(name)
                    pending.append(schemas[name])
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return found


def merge_documents(
    documents: Mapping[str, Mapping[str, Any]],
    *,
    title: str = GATEWAY_TITLE,
    description: str = GATEWAY_DESCRIPTION,
    version: str = "0.1.0",
    server: Mapping[str, str] = GATEWAY_SERVER,
) -> Document:
    """One document from each service's (keyed by its path prefix), probes left out.

    Identical components are kept once (the error envelope is everyone's); a name two
    services use for different things gets the service's prefix (`TasksFoo`). Two services
    claiming one path is a mistake in the routing, so it raises.
    """
    merged: Document = {
        "openapi": "3.1.0",
        "info": {"title": title, "description": description, "version": version},
        "servers": [dict(server)],
        "paths": {},
        "components": {"schemas": {}, "securitySchemes": {}},
    }
    schemas, schemes = merged["components"]["schemas"], merged["components"]["securitySchemes"]
    for service, source in documents.items():
        document = copy.deepcopy(dict(source))
        components = document.get("components", {})
        prefix = service.capitalize()
        schema_names = _clashing_names(components.get("schemas", {}), schemas, prefix, _rewrite)
        scheme_names = _clashing_names(
            components.get("securitySchemes", {}), schemes, prefix, lambda value, _: value
        )
        for name, schema in components.get("schemas", {}).items():
            schemas[schema_names.get(name, name)] = _rewrite(schema, schema_names)
        for name, scheme in components.get("securitySchemes", {}).items():
            schemes[scheme_names.get(name, name)] = scheme
        for path, item in document.get("paths", {}).items():
            public = {
                method: operation
                for method, operation in _rewrite(item, schema_names).items()
                if method not in HTTP_METHODS or PROBE_TAG not in operation.get("tags", [])
            }
            if not HTTP_METHODS & set(public):
                continue
            if path in merged["paths"]:
                raise ValueError(f"{path} is offered by two services")
            for method, operation in public.items():
                if method in HTTP_METHODS:
                    _rename_security(operation, scheme_names)
            merged["paths"][path] = public
    used = _reachable_schemas(merged)
    merged["components"]["schemas"] = {
        name: schema for name, schema in schemas.items() if name in used
    }
    return merged


def load_app(target: str) -> FastAPI:
    """The app at `module:attribute`."""
    module, _, attribute = target.partition(":")
    app = getattr(importlib.import_module(module), attribute)
    if not isinstance(app, FastAPI):
        raise TypeError(f"{target} is not a FastAPI app")
    return app


def gateway_files(apps: Mapping[str, str] = SERVICE_APPS) -> dict[str, str]:
    """The gateway's published files: `openapi.json` and the `docs.html` page showing it."""
    document = merge_documents(
        {prefix: load_app(target).openapi() for prefix, target in apps.items()}
    )
    page = get_swagger_ui_html(
        openapi_url="/openapi.json",
        title=f"{GATEWAY_TITLE} - API docs",
        swagger_js_url=f"{DOCS_STATIC}/swagger-ui-bundle.js",
        swagger_css_url=f"{DOCS_STATIC}/swagger-ui.css",
        swagger_favicon_url=f"{DOCS_STATIC}/favicon-32x32.png",
    )
    return {
        "openapi.json": json.dumps(document, indent=2, ensure_ascii=False) + "\n",
        "docs.html": bytes(page.body).decode(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m taskhub_common.openapi [--check] [--output DIR]`: write (or compare) them."""
    parser = argparse.ArgumentParser(
        prog="python -m taskhub_common.openapi",
        description="Build the gateway's merged OpenAPI document and docs page from the apps.",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument(
        "--check", action="store_true", help="fail if the files differ from what the code makes"
    )
    args = parser.parse_args(argv)
    output: Path = args.output
    stale = []
    for name, text in gateway_files().items():
        target = output / name
        current = target.read_text() if target.exists() else None
        if current == text:
            continue
        stale.append(str(target))
        if not args.check:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
    if args.check and stale:
        print(
            f"out of date: {', '.join(stale)}; run `uv run python -m taskhub_common.openapi`",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover - `python -m taskhub_common.openapi`
    raise SystemExit(main())
