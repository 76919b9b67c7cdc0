"""Test plumbing the services share: migrated test databases, per-test rollback, an API client.

Integration tests run against the real PostgreSQL and Redis of the test stack; each test
works inside one outer transaction that is rolled back, so tests never see each other's rows.
"""

from __future__ import annotations

import ast
import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Self

import httpx
from alembic import command
from fastapi import FastAPI
from joserfc.jwk import KeySet, RSAKey
from pydantic_settings import BaseSettings
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from taskhub_common.api_keys import ApiKeyLookup, Scope, generate_key
from taskhub_common.auth import (
    ACCESS_TOKEN_TYPE,
    Role,
    StaticKeySource,
    TokenVerifier,
    access_token_claims,
    sign_token,
)
from taskhub_common.internal import AuthServiceEndpoint, internal_http_client
from taskhub_common.loopback import LoopbackServer, StubRequest, StubResponse, json_response
from taskhub_common.migrations import alembic_config, upgrade_to_head


async def migrate(ini_path: Path, database_url: str) -> None:
    """`alembic upgrade head` on the test database (in a thread: Alembic runs its own loop)."""
    await asyncio.to_thread(upgrade_to_head, ini_path, database_url)


async def check_models_match_migrations(ini_path: Path, database_url: str) -> None:
    """`alembic check` on a migrated database: raises when autogenerate would find any
    difference between the models and what the hand-written migrations built."""
    await asyncio.to_thread(command.check, alembic_config(ini_path, database_url))


def package_imports(package_dir: Path) -> dict[str, set[str]]:
    """Which of the package's own modules each of its modules imports (at any level of the
    file, so an import inside a function counts too)."""
    package = package_dir.name
    modules: dict[str, Path] = {}
    for path in package_dir.rglob("*.py"):
        parts = [package, *path.relative_to(package_dir).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


def import_cycles(package_dir: Path) -> list[list[str]]:
    """The groups of the package's modules that import each other, directly or not."""
    graph = package_imports(package_dir)
    reaches = {name: _reachable(graph, name) for name in graph}
    cycles: list[list[str]] = []
    seen: set[str] = set()
    for name in sorted(graph):
        if name in seen or name not in reaches[name]:
            continue
        group = sorted(other for other in reaches[name] if name in reaches[other])
        seen.update(group)
        cycles.append(group)
    return cycles


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    found: set[str] = set()
    pending = list(graph[start])
    while pending:
        name = pending.pop()
        if name not in found:
            found.add(name)
            pending.extend(graph[name])
    return found


def check_env_example(settings: type[BaseSettings], env_example: Path) -> None:
    """Every setting of `settings` is documented in `env_example` (as `PREFIX_NAME=`, also
    commented out), and the file documents nothing else under the service's prefix."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    documented = {
        line.lstrip("# ").split("=", 1)[0]
        for line in env_example.read_text().splitlines()
        if line.lstrip("# ").startswith(prefix) and "=" in line
    }
    expected = {f"{prefix}{name.upper()}" for name in settings.model_fields}
    if documented != expected:
        raise AssertionError(
            f"{env_example.name}: undocumented {sorted(expected - documented)}, "
            f"no such setting {sorted(documented - expected)}"
        )


@asynccontextmanager
async def rollback_session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session whose commits become savepoints of one transaction rolled back at the end."""
    async with engine.connect() as connection:
        outer = await connection.begin()
        session = AsyncSession(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield session
        finally:
            await session.close()
            if outer.is_active:
                await outer.rollback()


@asynccontextmanager
async def api_client(
    app: FastAPI,
    *,
    session_dependency: Callable[..., Any],
    session: AsyncSession,
    client_host: str = "203.0.113.7",
) -> AsyncIterator[httpx.AsyncClient]:
    """An `httpx.AsyncClient` calling `app` in-process, its DB dependency bound to `session`."""

    async def use_test_session() -> AsyncIterator[AsyncSession]:
        yield session

    app.dependency_overrides[session_dependency] = use_test_session
    transport = httpx.ASGITransport(app=app, client=(client_host, 40000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client
    finally:
        app.dependency_overrides.pop(session_dependency, None)


class TokenMinter:
    """Mints access tokens with a throwaway RSA key, and a verifier that trusts only it.

    For services other than auth-svc: their tests need callers, not auth-svc itself.
    """

    def __init__(self, *, issuer: str, audience: str) -> None:
        self.key = RSAKey.generate_key(2048, auto_kid=True)
        self.issuer = issuer
        self.audience = audience
        self.verifier = TokenVerifier(
            StaticKeySource(KeySet([self.key])), issuer=issuer, audience=audience
        )

    def access_token(self, user_id: uuid.UUID, role: Role = Role.USER, lifetime: int = 900) -> str:
        claims = access_token_claims(
            user_id=user_id,
            role=role,
            issuer=self.issuer,
            audience=self.audience,
            lifetime_seconds=lifetime,
        )
        return sign_token(self.key, claims, token_type=ACCESS_TOKEN_TYPE)

    def headers(self, user_id: uuid.UUID, role: Role = Role.USER) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token(user_id, role)}"}


class ApiKeyDirectory:
    """A real loopback HTTP server speaking auth-svc's `POST /internal/api-keys/verify`.

    For services other than auth-svc: `issue` makes a key for a user, `revoke` withdraws it,
    `requests` counts what reached "auth-svc", `lookup()` is an `ApiKeyLookup` on it.
    """

    def __init__(self, *, internal_token: str) -> None:
        self.internal_token = internal_token
        self.grants: dict[str, dict[str, Any]] = {}
        self.requests = 0
        self.forced: tuple[int, bytes] | None = None  # (status, body): a broken auth-svc
        self._server = LoopbackServer(self._verify, record=False)
        self.url = self._server.url

    def __enter__(self) -> Self:
        self._server.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.stop()

    def issue(self, user_id: uuid.UUID, *scopes: Scope, expires_at: str | None = None) -> str:
        key = generate_key()
        self.grants[key] = {
            "id": str(uuid.uuid4()),
            "user_id": str(user_id),
            "scopes": [scope.value for scope in scopes],
            "expires_at": expires_at,
        }
        return key

    def revoke(self, key: str) -> None:
        del self.grants[key]

    def lookup(self, ttl_seconds: float = 10.0) -> ApiKeyLookup:
        endpoint = AuthServiceEndpoint(self.url, self.internal_token, internal_http_client(2.0))
        return ApiKeyLookup(endpoint, ttl_seconds=ttl_seconds)

    def _verify(self, request: StubRequest) -> StubResponse:
        self.requests += 1
        grant = self.grants.get(request.json().get("key"))
        if self.forced is not None:
            status, body = self.forced
            return StubResponse(status, body, {"Content-Type": "application/json"})
        if request.headers.get("X-Internal-Token") != self.internal_token:
            return json_response({"error": {"code": "UNAUTHORIZED", "message": "no"}}, 401)
        if request.method != "POST" or request.path != "/internal/api-keys/verify" or grant is None:
            return json_response({"error": {"code": "NOT_FOUND", "message": "no"}}, 404)
        return json_response(grant)


# --- The shape every service shares: its tests' folders and its one errors module ---------
# (Imports of this block are local to it, so the block stays in one piece at the file's end.)

TEST_FOLDERS = ("api", "services", "repositories")
TOP_LEVEL_TEST_FILES = frozenset({"__init__.py", "conftest.py", "test_structure.py"})
ERRORS_MODULE = ("services", "errors")


def check_test_layout(tests_dir: Path, package_dir: Path) -> None:
    """A service's tests have `api/` (the service driven from outside: HTTP through the app,
    its process, its CLI), `services/` and `repositories/`, with `repositories/test_<name>.py`
    for every module of the package's `repositories/`; no test module is loose at the top."""
    problems = [
        f"no tests/{folder}/" for folder in TEST_FOLDERS if not (tests_dir / folder).is_dir()
    ]
    repositories = sorted(
        path.stem
        for path in (package_dir / "repositories").glob("*.py")
        if path.name != "__init__.py"
    )
    problems += [
        f"no tests/repositories/test_{name}.py for repositories/{name}.py"
        for name in repositories
        if not (tests_dir / "repositories" / f"test_{name}.py").is_file()
    ]
    problems += [
        f"tests/{path.name} is loose: it belongs in a folder (api, services, repositories, …)"
        for path in sorted(tests_dir.glob("*.py"))
        if path.name not in TOP_LEVEL_TEST_FILES
    ]
    if problems:
        raise AssertionError("; ".join(problems))


def error_classes(package_dir: Path) -> dict[str, list[str]]:
    """The package's error classes by module: every class deriving from `TaskHubError`,
    through `taskhub_common`'s errors or through the package's own."""
    import importlib

    from taskhub_common.errors import TaskHubError

    def is_common_error(qualified: str) -> bool:
        module, _, name = qualified.rpartition(".")
        if not module.startswith("taskhub_common"):
            return False
        try:
            found = getattr(importlib.import_module(module), name, None)
        except ImportError:
            return False
        return isinstance(found, type) and issubclass(found, TaskHubError)

    package = package_dir.name
    classes: list[tuple[str, str, list[str]]] = []  # (module, class, its bases qualified)
    for path in sorted(package_dir.rglob("*.py")):
        parts = [package, *path.relative_to(package_dir).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        module = ".".join(parts)
        tree = ast.parse(path.read_text())
        names: dict[str, str] = {}  # local name -> what it was imported as
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        names[alias.asname] = alias.name
                    else:
                        top = alias.name.split(".")[0]
                        names[top] = top
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                resolved = [_qualified_base(base, names, module) for base in node.bases]
                classes.append((module, node.name, [base for base in resolved if base]))
    errors: set[str] = set()
    changed = True
    while changed:  # a class deriving from one of the package's errors is one too
        changed = False
        for module, name, bases in classes:
            qualified = f"{module}.{name}"
            if qualified not in errors and any(
                base in errors or is_common_error(base) for base in bases
            ):
                errors.add(qualified)
                changed = True
    found: dict[str, list[str]] = {}
    for module, name, _ in classes:
        if f"{module}.{name}" in errors:
            found.setdefault(module, []).append(name)
    return found


def _qualified_base(base: ast.expr, names: dict[str, str], module: str) -> str | None:
    if isinstance(base, ast.Name):
        return names.get(base.id, f"{module}.{base.id}")
    if isinstance(base, ast.Attribute) and isinstance(base.value, ast.Name):
        imported = names.get(base.value.id)
        return f"{imported}.{base.attr}" if imported else None
    return None


def check_errors_module(package_dir: Path) -> None:
    """Every error class of the package is defined in its `services/errors.py`."""
    home = ".".join([package_dir.name, *ERRORS_MODULE])
    elsewhere = {
        module: names for module, names in error_classes(package_dir).items() if module != home
    }
    if elsewhere:
        raise AssertionError(f"error classes outside {home}: {elsewhere}")


# The modules of a service package that may read `get_settings()` at import, to build the
# process-wide objects (the app, the service kit, the dependencies, the migration run).
SETTINGS_WIRING_MODULES = ("main.py", "api/deps.py", "db/session.py", "db/migrations/env.py")


def settings_rule_violations(package_dir: Path, *, also_wiring: tuple[str, ...] = ()) -> list[str]:
    """Where the package breaks the settings rule (docs/conventions.md), as `file:line: why`.

    `get_settings()` is the one way to settings: no `...Settings(...)` is constructed
    outside `get_settings`; it is called at import only in `SETTINGS_WIRING_MODULES` (and
    `also_wiring`, paths relative to the package); everywhere else it is called where the
    setting is used, so a changed environment reaches behaviour code.
    """
    wiring = {*SETTINGS_WIRING_MODULES, *also_wiring}
    found: list[str] = []
    for path in sorted(package_dir.rglob("*.py")):
        relative = path.relative_to(package_dir).as_posix()
        reads = _SettingsReads()
        reads.visit(ast.parse(path.read_text()))
        found += [f"{relative}:{line}: {why}" for line, why in reads.constructed]
        if relative not in wiring:
            found += [f"{relative}:{line}: get_settings() at import" for line in reads.at_import]
    return found


class _SettingsReads(ast.NodeVisitor):
    """`...Settings(...)` calls outside `get_settings`, and `get_settings()` calls that run
    at import (module and class bodies, decorators, default values)."""

    def __init__(self) -> None:
        self.functions: list[str] = []
        self.constructed: list[tuple[int, str]] = []
        self.at_import: list[int] = []

    def visit_Call(self, node: ast.Call) -> None:
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name == "get_settings" and not self.functions:
            self.at_import.append(node.lineno)
        if name and name.endswith("Settings") and "get_settings" not in self.functions:
            self.constructed.append((node.lineno, f"{name}() outside get_settings"))
        self.generic_visit(node)

    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        # Decorators and default values run at import; only the body waits for a call.
        if not isinstance(node, ast.Lambda):
            for decorator in node.decorator_list:
                self.visit(decorator)
        for default in [*node.args.defaults, *node.args.kw_defaults]:
            if default is not None:
                self.visit(default)
        self.functions.append(getattr(node, "name", "<lambda>"))
        body = node.body if isinstance(node.body, list) else [node.body]
        for statement in body:
            self.visit(statement)
        self.functions.pop()

    def visit(self, node: ast.AST) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            self._visit_function(node)
        else:
            super().visit(node)


# The names every service's wiring modules define, so that one service reads like another
# (docs/conventions.md, "One service kit").
SERVICE_WIRING_NAMES = {
    "db/session.py": ("settings", "kit", "database", "redis", "DbSession"),
    "api/deps.py": ("current_principal", "CurrentUser", "AdminUser"),
    "main.py": ("lifespan", "app"),
}


def service_wiring_gaps(package_dir: Path) -> list[str]:
    """What the package's wiring modules lack of `SERVICE_WIRING_NAMES`, as `file: name`,
    and where `main.py` does not use the kit's readiness checks and lifespan."""
    gaps: list[str] = []
    for relative, names in SERVICE_WIRING_NAMES.items():
        tree = ast.parse((package_dir / relative).read_text())
        defined = {
            target.id
            for node in tree.body
            if isinstance(node, ast.Assign | ast.AnnAssign)
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
            if isinstance(target, ast.Name)
        }
        gaps += [f"{relative}: {name}" for name in names if name not in defined]
    main = (package_dir / "main.py").read_text()
    gaps += [f"main.py: {use}" for use in ("kit.lifespan(", "kit.readiness") if use not in main]
    return gaps


# --- Every rule of a service's shape at once -----------------------------------------------


def service_shape_problems(
    package_dir: Path, tests_dir: Path, *, also_wiring: tuple[str, ...] = ()
) -> dict[str, list[str]]:
    """What breaks each shared rule of a service's shape, by rule (a kept rule is absent):
    no import cycle, errors in `services/errors.py`, the shared test layout, settings read
    by the one rule (`also_wiring`: the service's own wiring modules, as for
    `settings_rule_violations`), and the wiring modules' shape."""

    def raised(check: Callable[[], None]) -> list[str]:
        try:
            check()
        except AssertionError as broken:
            return [str(broken)]
        return []

    problems = {
        "import cycles": [" -> ".join(cycle) for cycle in import_cycles(package_dir)],
        "errors outside services/errors.py": raised(lambda: check_errors_module(package_dir)),
        "test layout": raised(lambda: check_test_layout(tests_dir, package_dir)),
        "settings rule": settings_rule_violations(package_dir, also_wiring=also_wiring),
        "wiring shape": service_wiring_gaps(package_dir),
    }
    return {rule: found for rule, found in problems.items() if found}
