"""The service template makes a working service: copied under new names (docs/new-service.md),
migrated into a throwaway database of the test cluster and started with uvicorn, it answers
its health checks and serves its authenticated endpoint to a token and to nobody else."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import tomllib
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from joserfc.jwk import KeySet
from sqlalchemy.engine import make_url

from taskhub_common.testing import (
    TokenMinter,
    check_env_example,
    service_wiring_gaps,
    settings_rule_violations,
)

TEMPLATE = Path(__file__).resolve().parents[2] / "template-svc"
# What docs/new-service.md renames, longest names first ("/template" last: it is also
# part of the paths the package names are in).
RENAMES = {
    "taskhub-template": "taskhub-widgets",
    "taskhub_template": "taskhub_widgets",
    "template_svc": "widgets_svc",
    "template-svc": "widgets-svc",
    "TEMPLATE_": "WIDGETS_",
    "/template": "/widgets",
}
JWKS_PATH = "/auth/.well-known/jwks.json"
START_TIMEOUT_SECONDS = 30.0


def generate_service(template: Path, target: Path) -> Path:
    """A copy of `template` at `target` with every name of `RENAMES` replaced, in file
    contents and in paths."""
    for source in sorted(template.rglob("*")):
        if "__pycache__" in source.parts or source.is_dir():
            continue
        relative = source.relative_to(template).as_posix()
        text = source.read_text()
        for old, new in RENAMES.items():
            relative, text = relative.replace(old, new), text.replace(old, new)
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(text)
    return target


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _superuser_sql(statement: str) -> None:
    """`statement` run by the test cluster's bootstrap superuser (the service roles may not
    create databases)."""
    from taskhub_stack.layout import choose_pg_location, pg_run_as
    from taskhub_stack.native import NativeStack
    from taskhub_stack.postgres import PostgresCluster
    from taskhub_stack.prereqs import find_system_programs

    stack = NativeStack()
    location = choose_pg_location(stack.layout.stack_dir, pg_run_as())
    bindir = find_system_programs().pg_bindir
    PostgresCluster(bindir, location, stack.ports.pg, pg_run_as()).psql(statement)


@pytest.fixture
def database_url() -> Iterator[str]:
    """A new database on the test cluster, owned by the auth test role; dropped afterwards."""
    auth_url = os.environ.get("AUTH_DATABASE_URL")
    if not auth_url:
        pytest.fail("Set AUTH_DATABASE_URL to a test database (nox -s tests does this).")
    url = make_url(auth_url)
    name = f"widgets_{uuid.uuid4().hex[:12]}_test"
    _superuser_sql(f"CREATE DATABASE {name} OWNER {url.username};")
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        _superuser_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE);")


@pytest.fixture
def jwks(minter: TokenMinter) -> Iterator[str]:
    """auth-svc's JWKS on loopback, publishing the minter's key: its base URL."""
    body = json.dumps(KeySet([minter.key]).as_dict(private=False)).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = self.path == JWKS_PATH
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body) if found else 0))
            self.end_headers()
            if found:
                self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def minter() -> TokenMinter:
    return TokenMinter(issuer="taskhub-auth", audience="taskhub")


def _service_env(service: Path, database_url: str, auth_url: str) -> dict[str, str]:
    redis_url = os.environ.get("AUTH_REDIS_URL")
    if not redis_url:
        pytest.fail("Set AUTH_REDIS_URL to a test Redis database (nox -s tests does this).")
    return {
        **os.environ,
        "PYTHONPATH": str(service / "src"),
        "WIDGETS_ENVIRONMENT": "test",
        "WIDGETS_DATABASE_URL": database_url,
        "WIDGETS_REDIS_URL": redis_url,
        "WIDGETS_AUTH_URL": auth_url,
        "WIDGETS_JWKS_URL": f"{auth_url}{JWKS_PATH}",
        "WIDGETS_JWT_ISSUER": "taskhub-auth",
        "WIDGETS_JWT_AUDIENCE": "taskhub",
    }


def _wait_until_listening(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the generated service exited:\n{log.read_text()[-4000:]}")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail(f"the generated service did not answer:\n{log.read_text()[-4000:]}")


@pytest.fixture
def generated(tmp_path: Path) -> Path:
    return generate_service(TEMPLATE, tmp_path / "widgets-svc")


def test_the_copy_keeps_the_rules_of_every_service(generated: Path) -> None:
    package = generated / "src" / "widgets_svc"
    assert not list(generated.rglob("*template*"))
    assert "taskhub_widgets" in (generated / ".env.example").read_text()
    assert settings_rule_violations(package) == []
    assert service_wiring_gaps(package) == []
    sys.path.insert(0, str(generated / "src"))
    try:
        from widgets_svc.core.config import Settings  # type: ignore[import-not-found]

        check_env_example(Settings, generated / ".env.example")
    finally:
        sys.path.remove(str(generated / "src"))
        for name in [module for module in sys.modules if module.startswith("widgets_svc")]:
            del sys.modules[name]


async def _add_notes(database_url: str, owner_id: uuid.UUID) -> None:
    """A note of `owner_id` and one of somebody else."""
    connection = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    await connection.execute(
        "INSERT INTO notes (id, owner_id, text) VALUES ($1, $2, 'mine'), ($3, $4, 'not mine')",
        uuid.uuid4(),
        owner_id,
        uuid.uuid4(),
        uuid.uuid4(),
    )
    await connection.close()


def test_a_service_generated_from_the_template_runs(
    generated: Path, database_url: str, jwks: str, minter: TokenMinter, tmp_path: Path
) -> None:
    # Synchronous on purpose: the service runs in processes of its own, and its migration
    # (Alembic) runs an event loop of its own.
    env = _service_env(generated, database_url, jwks)
    migrate = [sys.executable, "-c", "from widgets_svc.cli import main; exit(main(['migrate']))"]
    migrated = subprocess.run(migrate, cwd=generated, env=env, capture_output=True, check=False)
    assert migrated.returncode == 0, migrated.stderr.decode()[-4000:]
    user_id = uuid.uuid4()
    asyncio.run(_add_notes(database_url, user_id))

    port, log = _free_port(), tmp_path / "widgets-svc.log"
    base = f"http://127.0.0.1:{port}/widgets"
    uvicorn = [sys.executable, "-m", "uvicorn", "widgets_svc.main:app", "--port", str(port)]
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*uvicorn, "--host", "127.0.0.1"], cwd=generated, env=env, stdout=output, stderr=output
        )
    try:
        _wait_until_listening(process, f"{base}/healthz", log)
        with httpx.Client(base_url=base, timeout=10.0) as client:
            health = client.get("/healthz")
            ready = client.get("/readyz")
            anonymous = client.get("/notes")
            signed_in = client.get("/notes", headers=minter.headers(user_id))
    finally:
        process.terminate()
        process.wait(timeout=15)

    assert health.status_code == 200
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "redis": "ok"}
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "UNAUTHORIZED"
    assert signed_in.status_code == 200, signed_in.text
    assert [note["text"] for note in signed_in.json()["items"]] == ["mine"]


def test_the_template_is_neither_a_workspace_member_nor_built() -> None:
    root = TEMPLATE.parents[1]
    workspace = tomllib.loads((root / "pyproject.toml").read_text())
    assert "services/template-svc" not in workspace["tool"]["uv"]["workspace"]["members"]
    assert "template" not in (root / "services" / "Dockerfile").read_text()
    assert shutil.which("taskhub-template") is None
