"""`taskhub-auth create-admin`: the password comes from stdin or an env variable, never argv."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
import uuid

import pytest
from sqlalchemy import select

from auth_svc import cli
from auth_svc.db.session import database
from auth_svc.models.user import User

pytestmark = pytest.mark.integration

PASSWORD = "cli-password-123"


@pytest.fixture
def admin_email(committed_users: list[str]) -> str:
    email = f"cli-{uuid.uuid4().hex[:12]}@example.com"
    committed_users.append(email)
    return email


async def role_of(email: str) -> str | None:
    async with database.transaction() as session:
        return await session.scalar(select(User.role).where(User.email == email))


async def test_create_admin_reads_the_password_from_stdin(
    admin_email: str, child_env: dict[str, str]
) -> None:
    completed = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "auth_svc.cli",
            "create-admin",
            "--email",
            admin_email,
            "--name",
            "Ops",
        ],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        env=child_env,
        timeout=120,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    assert "admin account ready" in completed.stdout
    assert PASSWORD not in completed.stdout + completed.stderr
    assert await role_of(admin_email) == "admin"


async def test_create_admin_reads_a_named_environment_variable(
    admin_email: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPS_ADMIN_PASSWORD", PASSWORD)

    # In a thread: the command runs its own event loop, as it does from a shell.
    code = await asyncio.to_thread(
        cli.main, ["create-admin", "--email", admin_email, "--password-env", "OPS_ADMIN_PASSWORD"]
    )

    assert code == 0
    assert await role_of(admin_email) == "admin"
    assert PASSWORD not in capsys.readouterr().out


async def test_create_admin_promotes_an_existing_account(
    admin_email: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with database.transaction() as session:
        session.add(User(email=admin_email, password_hash="kept", name="Existing", role="user"))
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))

    code = await asyncio.to_thread(cli.main, ["create-admin", "--email", admin_email])

    assert code == 0
    assert await role_of(admin_email) == "admin"


def test_a_missing_password_variable_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_SUCH_VARIABLE", raising=False)
    with pytest.raises(SystemExit, match="NO_SUCH_VARIABLE is not set"):
        cli.main(["create-admin", "--email", "x@example.com", "--password-env", "NO_SUCH_VARIABLE"])


@pytest.mark.parametrize(
    ("email", "password"),
    [("not-an-email", PASSWORD), ("ok@example.com", "short")],
    ids=["bad-email", "short-password"],
)
def test_invalid_input_is_refused_before_touching_the_database(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], email: str, password: str
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(password + "\n"))

    assert cli.main(["create-admin", "--email", email]) == 2
    assert "invalid input" in capsys.readouterr().err


def test_the_password_is_not_an_argument() -> None:
    with pytest.raises(SystemExit):
        cli.main(["create-admin", "--email", "x@example.com", "--password", PASSWORD])
