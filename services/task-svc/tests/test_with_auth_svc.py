"""task-svc against the real auth-svc (a uvicorn subprocess on the auth test database):
its JWKS verifies the tokens and its internal API answers the assignee checks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from task_svc.api import deps
from task_svc.core.config import get_settings
from task_svc.db.session import redis
from task_svc.main import app
from task_svc.services.assignees import UserDirectory
from taskhub_common.auth import JwksKeySource, TokenVerifier, principal_dependency

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


@pytest.fixture(scope="module")
def auth_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real auth-svc, migrated, sharing our internal token, issuer and audience."""
    settings = get_settings()
    env = {
        **os.environ,
        "AUTH_ENVIRONMENT": "test",
        "AUTH_KEYS_DIR": str(tmp_path_factory.mktemp("auth-keys")),
        "AUTH_KEY_SIZE": "2048",
        "AUTH_INTERNAL_TOKEN": settings.internal_token.get_secret_value(),
        "AUTH_JWT_ISSUER": settings.jwt_issuer,
        "AUTH_JWT_AUDIENCE": settings.jwt_audience,
    }
    subprocess.run([sys.executable, "-m", "auth_svc.cli", "migrate"], env=env, check=True)
    port = _free_port()
    log = (tmp_path_factory.mktemp("auth-log") / "auth.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "auth_svc.main:app", "--host", "127.0.0.1",
         "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parents[3],
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


async def _register(client: httpx.AsyncClient, name: str) -> dict[str, str]:
    email = f"{name}-{uuid.uuid4().hex[:10]}@example.com"
    password = "a long enough password"
    registered = await client.post(
        "/auth/register", json={"email": email, "password": password, "name": name}
    )
    assert registered.status_code == 201, registered.text
    login = await client.post("/auth/login", json={"email": email, "password": password})
    assert login.status_code == 200, login.text
    return {"id": registered.json()["id"], "access": login.json()["access"]}


@pytest.fixture
async def real_auth(
    auth_url: str, client: httpx.AsyncClient
) -> AsyncIterator[tuple[dict[str, str], dict[str, str]]]:
    """Alice and Bob registered in auth-svc; task-svc trusts its JWKS and asks its API."""
    settings = get_settings()
    http = httpx.AsyncClient(timeout=3.0)
    verifier = TokenVerifier(
        JwksKeySource(f"{auth_url}/auth/.well-known/jwks.json", client=http),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )
    app.dependency_overrides[deps.current_principal] = principal_dependency(lambda: verifier)
    app.dependency_overrides[deps.user_directory] = lambda: UserDirectory(
        auth_url=auth_url,
        internal_token=settings.internal_token.get_secret_value(),
        client=http,
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
