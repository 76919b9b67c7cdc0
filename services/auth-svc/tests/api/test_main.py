"""auth-svc as a real process: startup generates keys, bootstraps the admin, becomes ready."""

from __future__ import annotations

import asyncio
import socket
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.integration

ADMIN_PASSWORD = "started-admin-password"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def server(
    tmp_path: Path, child_env: dict[str, str], committed_users: list[str]
) -> Iterator[tuple[str, str, Path]]:
    email = f"started-{uuid.uuid4().hex[:12]}@example.com"
    committed_users.append(email)
    keys_dir = tmp_path / "keys"
    port = free_port()
    env = {
        **child_env,
        "AUTH_KEYS_DIR": str(keys_dir),
        "AUTH_KEY_SIZE": "2048",
        "AUTH_ADMIN_EMAIL": email,
        "AUTH_ADMIN_PASSWORD": ADMIN_PASSWORD,
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "auth_svc.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"http://127.0.0.1:{port}", email, keys_dir
    finally:
        process.terminate()
        process.wait(timeout=30)


async def wait_ready(base_url: str, within_seconds: float = 60.0) -> httpx.Response:
    deadline = time.monotonic() + within_seconds
    async with httpx.AsyncClient(base_url=base_url) as http:
        while True:
            try:
                response = await http.get("/auth/readyz")
                if response.status_code == 200:
                    return response
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("auth-svc did not become ready")
            await asyncio.sleep(0.2)


async def test_a_started_service_is_ready_with_keys_and_its_admin(
    server: tuple[str, str, Path],
) -> None:
    base_url, email, keys_dir = server

    ready = await wait_ready(base_url)

    assert ready.json()["checks"] == {"database": "ok", "redis": "ok"}
    assert stat.S_IMODE(keys_dir.stat().st_mode) == 0o700
    key_files = list(keys_dir.glob("*.pem"))
    assert len(key_files) == 1
    assert stat.S_IMODE(key_files[0].stat().st_mode) == 0o600
    async with httpx.AsyncClient(base_url=base_url) as http:
        login = await http.post("/auth/login", json={"email": email, "password": ADMIN_PASSWORD})
        assert login.status_code == 200, login.text
        access = login.json()["access"]
        me = await http.get("/auth/me", headers={"Authorization": f"Bearer {access}"})
        assert me.json()["role"] == "admin"
