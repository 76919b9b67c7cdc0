"""Key verification: malformed keys never reach the database; well-formed ones are found by
their HMAC alone, so how much of a wrong key matches a real one changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from auth_svc.core.config import get_settings
from auth_svc.db.session import database
from auth_svc.services import api_keys as key_service
from auth_svc.services.errors import ApiKeyNotFound
from taskhub_common.api_keys import Scope, generate_key, is_well_formed, key_hash, key_of
from taskhub_common.auth import Principal, Role

pytestmark = pytest.mark.integration


@pytest.fixture
def statements() -> Iterator[list[tuple[str, Any]]]:
    """Every SQL statement the service sends while the test runs, with its parameters."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    engine = database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def _malformed(real: str) -> dict[str, str]:
    last = real[-1]
    return {
        "truncated": real[:-1],
        "wrong-checksum": real[:-1] + ("A" if last != "A" else "B"),
        "random-part-changed": real[:10] + ("x" if real[10] != "x" else "y") + real[11:],
        "other-prefix": "ghp_" + real[4:],
        "no-prefix": real[4:],
        "too-long": real + "0",
        "non-ascii": real[:-1] + "é",
        "empty": "",
        "token-like": "eyJhbGciOiJSUzI1NiJ9.e30.sig",
    }


@pytest.mark.parametrize("kind", list(_malformed(generate_key())))
async def test_a_malformed_key_is_refused_without_any_query(
    session: AsyncSession, statements: list[tuple[str, Any]], kind: str
) -> None:
    key = _malformed(generate_key())[kind]
    assert not is_well_formed(key)
    await session.connection()  # the transaction's own statements happen before we look
    statements.clear()

    with pytest.raises(ApiKeyNotFound):
        await key_service.verify_key(session, key=key)

    assert statements == []


async def test_a_wrong_key_is_looked_up_by_its_hmac_alone_whatever_it_shares(
    session: AsyncSession, statements: list[tuple[str, Any]], user: Any
) -> None:
    owner = Principal(user_id=user.id, role=Role.USER)
    _, real = await key_service.create_key(
        session, principal=owner, name="ci", scopes=[Scope.TASKS_READ], expires_at=None
    )
    stranger = generate_key()
    # Equal to the real key in all but the last random character, with a valid checksum.
    random_part = real[4:36]
    near = key_of(random_part[:-1] + ("a" if random_part[-1] != "a" else "b"))
    secret = get_settings().api_key_hash_secret.get_secret_value().encode()

    for wrong in (stranger, near):
        statements.clear()
        with pytest.raises(ApiKeyNotFound):
            await key_service.verify_key(session, key=wrong)
        assert len(statements) == 1
        sql, parameters = statements[0]
        assert "key_hash" in sql
        values = [str(value) for value in _values(parameters)]
        assert key_hash(wrong, secret) in values
        assert not any(wrong in value or wrong[4:20] in value for value in values)


def _values(parameters: Any) -> list[Any]:
    if isinstance(parameters, dict):
        return list(parameters.values())
    if isinstance(parameters, (list, tuple)):
        return list(parameters)
    return [parameters]
