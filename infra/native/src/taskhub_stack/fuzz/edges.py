"""Targeted edge cases for every field of every public operation, chosen by the field's type.

Generic generation (Schemathesis) rarely reaches the values that broke TaskHub before:
datetimes at the ends of the calendar with extreme offsets, lone surrogates, IDNA hosts that
do not encode, integers at the 2^31/2^63 borders. This driver walks each service's OpenAPI
document, builds one valid request per operation (the baseline), then sends it again once per
(field, edge value): every body property at any depth, every query, path and header
parameter. Any 5xx fails the run; every case is counted and reported.
"""

from __future__ import annotations

import json
import secrets
import unicodedata
import urllib.parse
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

JsonSchema = Mapping[str, Any]

# Datetimes at and around the ends of what Python, PostgreSQL and JSON can hold, with the
# largest offsets ISO 8601 allows: each converts to UTC outside the year range in one direction.
EDGE_DATETIMES: tuple[tuple[str, str], ...] = (
    ("max with -14:00", "9999-12-31T23:59:59-14:00"),
    ("min with +14:00", "0001-01-01T00:00:00+14:00"),
    ("max UTC", "9999-12-31T23:59:59.999999Z"),
    ("min UTC", "0001-01-01T00:00:00Z"),
    ("last second before 1970", "1969-12-31T23:59:59Z"),
    ("2038 border", "2038-01-19T03:14:08Z"),
    ("offset +23:59", "2030-01-01T00:00:00+23:59"),
    ("offset -23:59", "2030-01-01T00:00:00-23:59"),
    ("hour 24", "2030-01-01T24:00:00Z"),
    ("30 February", "2030-02-30T00:00:00Z"),
    ("no offset", "2030-01-01T00:00:00"),
    ("year 10000", "10000-01-01T00:00:00Z"),
    ("leap second", "2016-12-31T23:59:60Z"),
)
EDGE_TEXTS: tuple[tuple[str, str], ...] = (
    ("lone high surrogate", "\ud800"),
    ("lone low surrogate inside", "a\udfffb"),
    ("reversed surrogate pair", "\udc00\ud800"),
    ("NUL", "\x00"),
    ("NUL inside", "ab\x00cd"),
    ("RTL override", "\u202etxt.exe"),
    ("zero-width space only", "\u200b"),
    ("BOM", "\ufeffx"),
    ("non-character U+FFFF", "x\uffff"),
    ("max code point", "\U0010ffff"),
    ("NFD accent", unicodedata.normalize("NFD", "é")),
    ("combining marks", "e" + "\u0301" * 64),
    ("control characters", "\x01\x1b[31m\x7f"),
    ("empty", ""),
    ("whitespace only", " \t\n"),
    ("long", "x" * 100_001),
)
# Hosts that look like IDNA but do not encode, and other URLs a parser chokes on late.
EDGE_URLS: tuple[tuple[str, str], ...] = (
    ("invalid punycode emoji", "http://xn--ls8h.la/"),
    ("invalid punycode short", "http://xn--a/"),
    ("empty punycode label", "http://xn--/"),
    ("unicode host", "http://例え.テスト/hook"),
    ("port out of range", "http://127.0.0.1:99999/"),
    ("port zero", "http://127.0.0.1:0/"),
    ("empty label", "http://a..b/"),
    ("percent-encoded NUL host", "http://%00/"),
    ("space in host", "http://exa mple.com/"),
    ("IPv6 loopback", "http://[::1]/"),
    ("bad IPv6", "http://[::1/"),
    ("hex IPv4", "http://0x7f.1/"),
    ("credentials", "https://user:pass@xn--a.com/"),
    ("64-character label", f"http://{'a' * 64}.com/"),
    ("300-character host", f"http://{'.'.join(['a' * 60] * 5)}.com/"),
    ("no host", "http:///path"),
    ("javascript scheme", "javascript:alert(1)"),
)
EDGE_INTEGERS: tuple[tuple[str, int], ...] = (
    ("2^31-1", 2**31 - 1),
    ("2^31", 2**31),
    ("-2^31-1", -(2**31) - 1),
    ("2^63-1", 2**63 - 1),
    ("2^63", 2**63),
    ("-2^63-1", -(2**63) - 1),
    ("10^30", 10**30),
    ("zero", 0),
    ("minus one", -1),
)
EDGE_UUIDS: tuple[tuple[str, str], ...] = (
    ("nil uuid", "00000000-0000-0000-0000-000000000000"),
    ("max uuid", "ffffffff-ffff-ffff-ffff-ffffffffffff"),
    ("uuid without dashes", "0" * 32),
    ("braced uuid", "{00000000-0000-0000-0000-000000000000}"),
)
# Free-form JSON (a webhook's payload): the same text edges in keys and nested values.
EDGE_JSON: tuple[tuple[str, Any], ...] = (
    ("surrogate key", {"\ud800": 1}),
    ("surrogate value", {"k": "\ud800"}),
    ("nested surrogate", {"a": {"b": ["ok", "\udfff"]}}),
    ("NUL key", {"\x00": "x"}),
    ("NUL nested", {"a": [{"b": "\x00"}]}),
    ("deep nesting", json.loads("[" * 500 + "]" * 500)),
    ("huge integer", {"n": 10**400}),
)
EDGES_BY_KIND: dict[str, tuple[tuple[str, Any], ...]] = {
    "datetime": EDGE_DATETIMES + EDGE_TEXTS[:5],
    "text": EDGE_TEXTS,
    "email": (
        *EDGE_TEXTS[:8],
        ("NFD address", unicodedata.normalize("NFD", "josé@example.com")),
        ("IDNA domain", "a@xn--ls8h.la"),
        ("255 characters", "a" * 243 + "@example.com"),
    ),
    "url": EDGE_URLS + EDGE_TEXTS[:5],
    "uuid": EDGE_UUIDS + EDGE_TEXTS[:5],
    "integer": (*EDGE_INTEGERS, ("text", "1e999")),
    "json": EDGE_JSON,
    "enum": EDGE_TEXTS[:6],
    "boolean": (("text", "yes"), ("number", 2)),
}
LOCATIONS = ("body", "query", "path", "header")
# Longer request targets are the gateway's 414, tested on their own; HTTP clients refuse them.
MAX_URL_LENGTH = 8192
# Headers that are transport, not API: never mutated.
SKIPPED_HEADERS = frozenset({"x-internal-token", "authorization"})


@dataclass(frozen=True)
class Operation:
    service: str
    method: str
    path: str
    parameters: tuple[JsonSchema, ...]
    body: JsonSchema | None

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class EdgeCase:
    operation: Operation
    location: str  # body | query | path | header
    field: str  # a dotted path inside the body, or the parameter's name
    kind: str
    label: str
    value: Any

    def describe(self) -> str:
        op = self.operation
        return f"{op.method} {op.path} {self.location}:{self.field} = {self.label}"


@dataclass
class EdgeReport:
    """Every case's answer, by status; `server_errors` must stay empty."""

    statuses: Counter[int] = field(default_factory=Counter)
    baselines: dict[str, int] = field(default_factory=dict)
    server_errors: list[tuple[EdgeCase, int, str]] = field(default_factory=list)
    transport_errors: list[tuple[EdgeCase, str]] = field(default_factory=list)

    @property
    def cases(self) -> int:
        return sum(self.statuses.values()) + len(self.transport_errors)

    @property
    def passed(self) -> bool:
        return not self.server_errors and not self.transport_errors

    def summary(self) -> str:
        by_status = ", ".join(f"{status}: {n}" for status, n in sorted(self.statuses.items()))
        lines = [f"edge cases through the gateway: {self.cases} sent ({by_status})"]
        lines += [f"  baseline {name}: {status}" for name, status in sorted(self.baselines.items())]
        lines += [
            f"  5xx {status}: {case.describe()}: {body[:200]}"
            for case, status, body in self.server_errors
        ]
        lines += [
            f"  no answer: {case.describe()}: {error}" for case, error in self.transport_errors
        ]
        return "\n".join(lines)


class Schemas:
    """Resolves `$ref`s and unwraps nullable `anyOf`s of one OpenAPI document."""

    def __init__(self, document: JsonSchema) -> None:
        self.components: Mapping[str, JsonSchema] = document.get("components", {}).get(
            "schemas", {}
        )

    def resolve(self, schema: JsonSchema) -> JsonSchema:
        while "$ref" in schema:
            schema = self.components[str(schema["$ref"]).rsplit("/", 1)[-1]]
        branches = [b for b in schema.get("anyOf", ()) if self.resolve(b).get("type") != "null"]
        if branches:
            return self.resolve(branches[0])
        return schema

    def kind(self, schema: JsonSchema, name: str) -> str:
        """The edge family of a leaf: datetime, url, email, uuid, integer, text, json, …"""
        schema = self.resolve(schema)
        fmt, kind = schema.get("format"), schema.get("type")
        if "enum" in schema:
            return "enum"
        if fmt == "date-time":
            return "datetime"
        if fmt in ("uri", "url") or name.endswith("url"):
            return "url"
        if fmt == "email" or name.endswith("email"):
            return "email"
        if fmt == "uuid" or name.endswith("_id"):
            return "uuid"
        if kind in ("integer", "number"):
            return "integer"
        if kind == "boolean":
            return "boolean"
        if kind == "object" and "properties" not in schema:
            return "json"
        return "text"

    def example(self, schema: JsonSchema, name: str, hints: Mapping[str, Any]) -> Any:
        """A valid value: the hint for this field name if any, else one built from the schema."""
        if name in hints:
            return hints[name]() if callable(hints[name]) else hints[name]
        schema = self.resolve(schema)
        if "enum" in schema:
            return schema["enum"][0]
        kind = schema.get("type")
        if kind == "object":
            required = schema.get("required", ())
            properties = schema.get("properties", {})
            return {key: self.example(properties[key], key, hints) for key in required}
        if kind == "array":
            return (
                [] if not schema.get("minItems") else [self.example(schema["items"], name, hints)]
            )
        if kind in ("integer", "number"):
            return max(1, int(schema.get("minimum", 1)))
        if kind == "boolean":
            return True
        if schema.get("format") == "date-time":
            return "2031-01-02T03:04:05Z"
        return "edge" + "x" * max(0, int(schema.get("minLength", 0)) - 4)


def operations(service: str, document: JsonSchema) -> Iterator[Operation]:
    """The public operations of one service's document (internal routes are never routed)."""
    for path, methods in document.get("paths", {}).items():
        if path.startswith("/internal/"):
            continue
        for method, spec in methods.items():
            if method.upper() not in ("GET", "POST", "PUT", "PATCH", "DELETE"):
                continue
            content = spec.get("requestBody", {}).get("content", {})
            body = content.get("application/json", {}).get("schema")
            yield Operation(service, method.upper(), path, tuple(spec.get("parameters", ())), body)


def _body_leaves(
    schemas: Schemas, schema: JsonSchema, prefix: str
) -> Iterator[tuple[str, JsonSchema]]:
    """(dotted path, schema) of every property at any depth; array items as `name[]`."""
    schema = schemas.resolve(schema)
    for name, child in schema.get("properties", {}).items():
        dotted = f"{prefix}{name}"
        resolved = schemas.resolve(child)
        if resolved.get("type") == "object" and "properties" in resolved:
            yield from _body_leaves(schemas, resolved, f"{dotted}.")
        elif resolved.get("type") == "array":
            yield dotted + "[]", resolved.get("items", {})
        else:
            yield dotted, child


def edge_cases(service: str, document: JsonSchema) -> Iterator[EdgeCase]:
    """Every (operation, field, edge value) of one service's document."""
    schemas = Schemas(document)
    for op in operations(service, document):
        for parameter in op.parameters:
            name, where = str(parameter["name"]), str(parameter["in"])
            if where not in LOCATIONS or name.lower() in SKIPPED_HEADERS:
                continue
            schema = schemas.resolve(parameter.get("schema", {}))
            if schema.get("type") == "array":
                schema = schema.get("items", {})
            kind = schemas.kind(schema, name)
            for label, value in EDGES_BY_KIND[kind]:
                yield EdgeCase(op, where, name, kind, label, value)
        if op.body is not None:
            for dotted, schema in _body_leaves(schemas, op.body, ""):
                leaf = dotted.removesuffix("[]")
                kind = schemas.kind(schema, leaf.rsplit(".", 1)[-1])
                for label, value in EDGES_BY_KIND[kind]:
                    yield EdgeCase(op, "body", dotted, kind, label, value)


def _set_dotted(body: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    """A copy of `body` with the field at `dotted` set (`name[]` sets a one-item list)."""
    result = json.loads(json.dumps(body))
    target = result
    *parents, last = dotted.split(".")
    for parent in parents:
        target = target.setdefault(parent, {})
    if last.endswith("[]"):
        target[last[:-2]] = [value]
    else:
        target[last] = value
    return dict(result)


def _encode_query(value: Any) -> str:
    # Lone surrogates cannot be UTF-8: send their raw CESU-style bytes, as an attacker would.
    text = value if isinstance(value, str) else json.dumps(value)
    return urllib.parse.quote(text.encode("utf-8", "surrogatepass"), safe="")


@dataclass(frozen=True)
class RequestParts:
    method: str
    url: str
    content: bytes | None
    headers: dict[str, str]


def build_request(
    case: EdgeCase, *, baseline: Mapping[str, Any], path_values: Mapping[str, str]
) -> RequestParts | None:
    """The request of one case, or None when HTTP itself cannot carry the value (a header
    with characters outside Latin-1, a request target beyond `MAX_URL_LENGTH`)."""
    op = case.operation
    path = op.path
    for name, value in path_values.items():
        replacement = (
            _encode_query(case.value) if case.location == "path" and name == case.field else value
        )
        path = path.replace("{" + name + "}", replacement)
    query = ""
    if case.location == "query":
        query = f"?{case.field}={_encode_query(case.value)}"
    if len(path) + len(query) > MAX_URL_LENGTH:
        return None
    headers = {"Content-Type": "application/json"}
    if case.location == "header":
        text = case.value if isinstance(case.value, str) else json.dumps(case.value)
        if not text or any(ord(c) > 255 or c in "\r\n\x00" for c in text):
            return None
        headers[case.field] = text
    content = None
    if op.body is not None:
        body = dict(baseline)
        if case.location == "body":
            body = _set_dotted(body, case.field, case.value)
        # ensure_ascii keeps lone surrogates as `\ud800` escapes, as a client's JSON would.
        content = json.dumps(body).encode("ascii")
    return RequestParts(op.method, f"{path}{query}", content, headers)


def default_hints(webhook_url: str, email_domain: str) -> dict[str, Any]:
    """Valid values for fields whose schema alone cannot produce one (a reachable URL…)."""
    return {
        "email": lambda: f"edge-{secrets.token_hex(6)}@{email_domain}",
        "to": lambda: f"edge-{secrets.token_hex(6)}@{email_domain}",
        "password": "correct horse battery staple 42",
        "url": webhook_url,
        "webhook_url": webhook_url,
        "payload": {"hello": "world"},
        "title": "Edge case",
        "subject": "Edge case",
        "body": "Edge case body.",
        "name": "Edge",
        "role": "user",
        "refresh": "not-a-token",
        "status": "todo",
    }


@dataclass
class Identity:
    """A fuzz user with a task and a job of its own, so path ids reach the real code path."""

    token: str
    path_values: dict[str, str]


def new_identity(client: httpx.Client, hints: Mapping[str, Any]) -> Identity:
    email = hints["email"]()
    password = hints["password"]
    registered = client.post(
        "/auth/register", json={"email": email, "password": password, "name": "Edge"}
    )
    login = client.post("/auth/login", json={"email": email, "password": password})
    if registered.status_code != 201 or login.status_code != 200:
        raise RuntimeError(
            f"cannot create a fuzz user: {registered.status_code}/{login.status_code}"
        )
    token = str(login.json()["access"])
    auth = {"Authorization": f"Bearer {token}"}
    me = client.get("/auth/me", headers=auth).json()
    task = client.post("/tasks", json={"title": "Edge case"}, headers=auth).json()
    job = client.post(
        "/notify/email",
        json={"to": hints["to"](), "subject": "Edge", "body": "Edge case body."},
        headers=auth,
    ).json()
    return Identity(
        token,
        {"user_id": str(me["id"]), "task_id": str(task.get("id")), "job_id": str(job.get("id"))},
    )


@dataclass(frozen=True)
class EdgeOptions:
    base_url: str
    services: tuple[str, ...]
    webhook_url: str
    email_domain: str
    admin: tuple[str, str] | None = None
    # Per-user limits (60 creations a minute) would answer 429 before validation: a fresh
    # user every this many cases keeps every case on the code path it targets.
    cases_per_identity: int = 40
    timeout_seconds: float = 30.0


class Clients:
    """HTTP clients bound to rotating loopback addresses: per-address limits of the gateway
    and of login/registration then never answer in place of the code under test."""

    def __init__(self, base_url: str, timeout: float, *, rotate: bool) -> None:
        self.base_url, self.timeout, self.rotate = base_url, timeout, rotate
        self._clients: dict[str, httpx.Client] = {}

    def get(self, index: int) -> httpx.Client:
        address = f"127.0.{10 + index // 250 % 200}.{index % 250 + 1}" if self.rotate else ""
        if address not in self._clients:
            transport = httpx.HTTPTransport(local_address=address) if address else None
            self._clients[address] = httpx.Client(
                base_url=self.base_url, timeout=self.timeout, transport=transport
            )
        return self._clients[address]

    def close(self) -> None:
        for client in self._clients.values():
            client.close()


def run_edge_fuzz(options: EdgeOptions) -> EdgeReport:
    """Send every edge case of every public operation; see `EdgeReport`."""
    report = EdgeReport()
    hints = default_hints(options.webhook_url, options.email_domain)
    host = urllib.parse.urlsplit(options.base_url).hostname
    clients = Clients(options.base_url, options.timeout_seconds, rotate=host == "127.0.0.1")
    try:
        setup = clients.get(0)
        documents = {svc: setup.get(f"/{svc}/openapi.json").json() for svc in options.services}
        admin_token = _admin_token(setup, options.admin)
        token_for: dict[str, str | None] = {}
        identity = new_identity(setup, hints)
        number = 0
        for service, document in documents.items():
            schemas = Schemas(document)

            for case in edge_cases(service, document):
                number += 1
                if number % options.cases_per_identity == 0:
                    identity = new_identity(clients.get(number), hints)
                op = case.operation
                body = baseline(schemas, op, hints, identity)
                if op.name not in token_for:
                    token_for[op.name] = _choose_token(
                        clients.get(number), op, body, identity, admin_token, report
                    )
                token = token_for[op.name] or identity.token
                _send(clients.get(number), case, body, identity, token, report)
    finally:
        clients.close()
    return report


def baseline(
    schemas: Schemas, op: Operation, hints: Mapping[str, Any], identity: Identity
) -> Mapping[str, Any]:
    """The valid body an operation's cases start from (fresh unique values each time)."""
    if op.body is None:
        return {}
    # Bulk operations need ids of the caller's own tasks to reach the write path.
    own = {"ids": [identity.path_values["task_id"]]}
    return dict(schemas.example(op.body, "", {**hints, **own}))


def _admin_token(client: httpx.Client, admin: tuple[str, str] | None) -> str | None:
    if admin is None:
        return None
    response = client.post("/auth/login", json={"email": admin[0], "password": admin[1]})
    return str(response.json()["access"]) if response.status_code == 200 else None


def _choose_token(
    client: httpx.Client,
    op: Operation,
    body: Mapping[str, Any],
    identity: Identity,
    admin_token: str | None,
    report: EdgeReport,
) -> str | None:
    """None (the fuzz user) unless the operation is for administrators only and we have one."""
    name = op.name
    status = _baseline_status(client, op, body, identity, identity.token)
    report.baselines[name] = status
    if status == 403 and admin_token is not None:
        report.baselines[name + " (admin)"] = _baseline_status(
            client, op, body, identity, admin_token
        )
        return admin_token
    return None


def _baseline_status(
    client: httpx.Client, op: Operation, body: Mapping[str, Any], identity: Identity, token: str
) -> int:
    path = op.path
    for name, value in identity.path_values.items():
        path = path.replace("{" + name + "}", value)
    content = json.dumps(body).encode() if op.body is not None else None
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    return client.request(op.method, path, content=content, headers=headers).status_code


def _send(
    client: httpx.Client,
    case: EdgeCase,
    body: Mapping[str, Any],
    identity: Identity,
    token: str,
    report: EdgeReport,
) -> None:
    parts = build_request(case, baseline=body, path_values=identity.path_values)
    if parts is None:
        return
    headers = {"Authorization": f"Bearer {token}", **parts.headers}
    try:
        response = client.request(parts.method, parts.url, content=parts.content, headers=headers)
    except httpx.HTTPError as error:
        report.transport_errors.append((case, type(error).__name__))
        return
    report.statuses[response.status_code] += 1
    if response.status_code >= 500:
        report.server_errors.append((case, response.status_code, response.text))
