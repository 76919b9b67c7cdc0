"""task-svc against the real auth-svc (a uvicorn subprocess on the auth test database):
its JWKS verifies the tokens and its internal API answers the assignee checks."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from task_svc.api import deps
from task_svc.core.config import get_settings
from task_svc.db.session import redis
from task_svc.main import app
from task_svc.services.assignees import UserDirectory
from taskhub_common.auth import JwksKeySource, TokenVerifier, principal_dependency
from taskhub_common.internal import AuthServiceEndpoint
from taskhub_common.roles import CurrentRoles

AUTH_ENV = ("AUTH_DATABASE_URL", "AUTH_REDIS_URL")
pytestmark = pytest.mark.skipif(
    not all(os.environ.get(name) for name in AUTH_ENV),
    reason="needs AUTH_DATABASE_URL and AUTH_REDIS_URL (the auth-svc test database and Redis)",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# The bootstrap admin of the test auth-svc (created, or promoted, at its start).
ADMIN_EMAIL, ADMIN_PASSWORD = "task-svc-tests-admin@example.com", "a long admin password"
# Short windows so the tests can wait them out; production defaults are 5 s and 60 s.
ROLE_TTL_SECONDS, JWKS_MAX_AGE_SECONDS = 0.3, 0.5


def _auth_env(keys_dir: Path) -> dict[str, str]:
    settings = get_settings()
    return {
        **os.environ,
        "AUTH_ENVIRONMENT": "test",
        "AUTH_KEYS_DIR": str(keys_dir),
        "AUTH_KEY_SIZE": "2048",
        "AUTH_INTERNAL_TOKEN": settings.internal_token.get_secret_value(),
        "AUTH_JWT_ISSUER": settings.jwt_issuer,
        "AUTH_JWT_AUDIENCE": settings.jwt_audience,
        "AUTH_ADMIN_EMAIL": ADMIN_EMAIL,
        "AUTH_ADMIN_PASSWORD": ADMIN_PASSWORD,
    }


@contextmanager
def _running_auth_svc(env: dict[str, str], port: int, log_path: Path) -> Iterator[str]:
    """auth-svc under uvicorn on `port` until the block ends; yields its base URL."""
    log = log_path.open("a")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "auth_svc.main:app", "--host", "127.0.0.1",
         "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parents[4],
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/auth/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, "auth-svc exited; see its log"
            assert time.monotonic() < deadline, "auth-svc did not start"
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@pytest.fixture(scope="module")
def auth_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """auth-svc's environment (migrated): our internal token, issuer and audience."""
    env = _auth_env(tmp_path_factory.mktemp("auth-keys"))
    subprocess.run([sys.executable, "-m", "auth_svc.cli", "migrate"], env=env, check=True)
    return env


@pytest.fixture(scope="module")
def auth_url(auth_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real auth-svc, running for the whole module."""
    log_path = tmp_path_factory.mktemp("auth-log") / "auth.log"
    with _running_auth_svc(auth_env, _free_port(), log_path) as url:
        yield url


async def _register(client: httpx.AsyncClient, name: str) -> dict[str, str]:
    email = f"{name}-{uuid.uuid4().hex[:10]}@example.com"
    password = "a long enough password"
    registered = await client.post(
        "/auth/register", json={"email": email, "password": password, "name": name}
    )
    assert registered.status_code == 201, registered.text
    login = await client.post("/auth/login", json={"email": email, "password": password})
    assert login.status_code == 200, login.text
    return {"id": registered.json()["id"], "access": login.json()["access"], "email": email}


@pytest.fixture
async def real_auth(
    auth_url: str, client: httpx.AsyncClient
) -> AsyncIterator[tuple[dict[str, str], dict[str, str]]]:
    """Alice and Bob registered in auth-svc; task-svc trusts its JWKS and asks its API."""
    settings = get_settings()
    http = httpx.AsyncClient(timeout=3.0)
    endpoint = AuthServiceEndpoint(auth_url, settings.internal_token.get_secret_value(), http)
    verifier = TokenVerifier(
        JwksKeySource(f"{auth_url}/auth/.well-known/jwks.json", client=http),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        roles=CurrentRoles(endpoint, ttl_seconds=ROLE_TTL_SECONDS),
    )
    app.dependency_overrides[deps.current_principal] = principal_dependency(lambda: verifier)
    app.dependency_overrides[deps.user_directory] = lambda: UserDirectory(
        endpoint,
        redis=redis,
        positive_ttl_seconds=600,
        negative_ttl_seconds=30,
    )
    async with httpx.AsyncClient(base_url=auth_url, timeout=10) as auth_client:
        users = (await _register(auth_client, "alice"), await _register(auth_client, "bob"))
    yield users
    await http.aclose()


async def test_tasks_with_real_tokens_and_assignees(
    client: httpx.AsyncClient, real_auth: tuple[dict[str, str], dict[str, str]]
) -> None:
    alice, bob = real_auth
    headers = {"Authorization": f"Bearer {alice['access']}"}

    assigned = await client.post(
        "/tasks", json={"title": "t", "assignee_id": bob["id"]}, headers=headers
    )
    unknown = await client.post(
        "/tasks", json={"title": "t", "assignee_id": str(uuid.uuid4())}, headers=headers
    )
    bob_view = await client.get(
        f"/tasks/{assigned.json()['id']}", headers={"Authorization": f"Bearer {bob['access']}"}
    )

    assert assigned.status_code == 201, assigned.text
    assert assigned.json()["owner_id"] == alice["id"]
    assert unknown.status_code == 422
    assert unknown.json()["error"]["details"][0]["field"] == "body.assignee_id"
    assert bob_view.status_code == 200
    garbage_token = await client.get("/tasks", headers={"Authorization": "Bearer not.a.token"})
    assert garbage_token.status_code == 401


async def _sign_in(client: httpx.AsyncClient, email: str, password: str) -> str:
    login = await client.post("/auth/login", json={"email": email, "password": password})
    assert login.status_code == 200, login.text
    access: str = login.json()["access"]
    return access


async def _set_role(client: httpx.AsyncClient, admin_access: str, user_id: str, role: str) -> None:
    changed = await client.patch(
        f"/auth/users/{user_id}",
        json={"role": role},
        headers={"Authorization": f"Bearer {admin_access}"},
    )
    assert changed.status_code == 200, changed.text


async def test_a_demoted_admins_old_token_loses_admin_power_within_the_ttl(
    client: httpx.AsyncClient,
    auth_url: str,
    real_auth: tuple[dict[str, str], dict[str, str]],
) -> None:
    alice, bob = real_auth  # Alice will be promoted, then demoted; Bob owns a task
    bobs = await client.post(
        "/tasks", json={"title": "Bob's"}, headers={"Authorization": f"Bearer {bob['access']}"}
    )
    assert bobs.status_code == 201, bobs.text
    async with httpx.AsyncClient(base_url=auth_url, timeout=10) as auth_client:
        admin = await _sign_in(auth_client, ADMIN_EMAIL, ADMIN_PASSWORD)
        await _set_role(auth_client, admin, alice["id"], "admin")
        old_admin_token = await _sign_in(auth_client, alice["email"], "a long enough password")
        headers = {"Authorization": f"Bearer {old_admin_token}"}
        path = f"/tasks/{bobs.json()['id']}"

        as_admin = await client.get(path, headers=headers)
        await _set_role(auth_client, admin, alice["id"], "user")
        await asyncio.sleep(ROLE_TTL_SECONDS)
        as_user = await client.get(path, headers=headers)
        listed = await client.get("/tasks", headers=headers)

    assert as_admin.status_code == 200
    assert as_user.status_code == 404
    assert listed.status_code == 200
    assert bobs.json()["id"] not in {task["id"] for task in listed.json()["items"]}


async def test_a_deleted_signing_key_stops_verifying_within_the_max_age(
    client: httpx.AsyncClient,
    auth_env: dict[str, str],
    tmp_path: Path,
) -> None:
    """docs/operations.md: a leaked key is deleted and auth-svc restarted."""
    settings = get_settings()
    keys_dir = tmp_path / "keys"
    keys_dir.mkdir()
    env = auth_env | {"AUTH_KEYS_DIR": str(keys_dir)}
    port, log_path = _free_port(), tmp_path / "auth.log"
    async with httpx.AsyncClient(timeout=3.0) as http:
        verifier = TokenVerifier(
            JwksKeySource(
                f"http://127.0.0.1:{port}/auth/.well-known/jwks.json",
                client=http,
                max_age_seconds=JWKS_MAX_AGE_SECONDS,
            ),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
        )
        app.dependency_overrides[deps.current_principal] = principal_dependency(lambda: verifier)
        with _running_auth_svc(env, port, log_path) as url:
            async with httpx.AsyncClient(base_url=url, timeout=10) as auth_client:
                old = (await _register(auth_client, "carol"))["access"]
            before = await client.get("/tasks", headers={"Authorization": f"Bearer {old}"})
        for key_file in keys_dir.glob("*.pem"):
            key_file.unlink()
        with _running_auth_svc(env, port, log_path) as url:
            async with httpx.AsyncClient(base_url=url, timeout=10) as auth_client:
                new = (await _register(auth_client, "dave"))["access"]
            await asyncio.sleep(JWKS_MAX_AGE_SECONDS)
            after = await client.get("/tasks", headers={"Authorization": f"Bearer {old}"})
            fresh = await client.get("/tasks", headers={"Authorization": f"Bearer {new}"})

    assert before.status_code == 200
    assert after.status_code == 401
    assert after.json()["error"]["code"] == "UNAUTHORIZED"
    assert fresh.status_code == 200
