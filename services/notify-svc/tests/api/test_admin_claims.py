"""An admin claim counts only while auth-svc still says admin: dead letters follow the role."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from notify_svc.api.deps import current_principal
from notify_svc.core.config import get_settings
from notify_svc.db.session import kit
from notify_svc.main import app
from taskhub_common.auth import JwksKeySource, Role, TokenVerifier, principal_dependency
from taskhub_common.internal import AuthServiceEndpoint
from taskhub_common.roles import CurrentRoles
from taskhub_common.service import AuthServiceClients
from taskhub_common.testing import TokenMinter

pytestmark = pytest.mark.integration

TTL = 0.3


ConfirmWith = Callable[[str], None]


@pytest.fixture
async def confirm_with(
    client: httpx.AsyncClient, minter: TokenMinter
) -> AsyncIterator[ConfirmWith]:
    """Installs a verifier of the minter's tokens confirming admin claims at an auth-svc URL."""
    async with httpx.AsyncClient(timeout=1.0) as http:

        def install(auth_url: str) -> None:
            token = get_settings().internal_token.get_secret_value()
            roles = CurrentRoles(AuthServiceEndpoint(auth_url, token, http), ttl_seconds=TTL)
            verifier = TokenVerifier(
                minter.verifier.keys, issuer=minter.issuer, audience=minter.audience, roles=roles
            )
            app.dependency_overrides[current_principal] = principal_dependency(lambda: verifier)

        yield install


def _admin_in(auth_stub: Any) -> uuid.UUID:
    user_id: uuid.UUID = auth_stub.add_user()
    auth_stub.users[str(user_id)]["role"] = "admin"
    return user_id


async def test_a_demoted_admin_no_longer_reads_dead_letters(
    client: httpx.AsyncClient,
    minter: TokenMinter,
    auth_stub: Any,
    confirm_with: ConfirmWith,
) -> None:
    confirm_with(auth_stub.url)
    user_id = _admin_in(auth_stub)
    headers = minter.headers(user_id, Role.ADMIN)

    as_admin = await client.get("/notify/failed", headers=headers)
    auth_stub.users[str(user_id)]["role"] = "user"
    await asyncio.sleep(TTL)
    demoted = await client.get("/notify/failed", headers=headers)
    own_jobs = await client.get("/notify/jobs", headers=headers)
    del auth_stub.users[str(user_id)]
    await asyncio.sleep(TTL)
    deleted = await client.get("/notify/failed", headers=headers)

    assert as_admin.status_code == 200
    assert demoted.status_code == 403
    assert demoted.json()["error"]["code"] == "FORBIDDEN"
    assert own_jobs.status_code == 200  # still a user: his own jobs stay his
    assert deleted.status_code == 401


async def test_an_unconfirmable_admin_claim_is_a_503(
    client: httpx.AsyncClient, minter: TokenMinter, confirm_with: ConfirmWith
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        confirm_with(f"http://127.0.0.1:{sock.getsockname()[1]}")  # nothing listens there

    admin = await client.get("/notify/failed", headers=minter.headers(uuid.uuid4(), Role.ADMIN))
    user = await client.get("/notify/jobs", headers=minter.headers(uuid.uuid4()))

    assert admin.status_code == 503
    assert admin.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert admin.headers["retry-after"] == "5"
    assert user.status_code == 200


def test_the_default_verifier_confirms_admins_and_ages_its_keys(integration_env: None) -> None:
    settings = get_settings()
    verifier = AuthServiceClients(kit, settings).token_verifier()
    assert isinstance(verifier.keys, JwksKeySource)
    assert verifier.keys.max_age_seconds == settings.jwks_max_age_seconds
    assert isinstance(verifier.roles, CurrentRoles)
    assert verifier.roles.auth.base_url == settings.auth_url
    assert verifier.roles.auth.token == settings.internal_token.get_secret_value()
    assert verifier.roles.ttl_seconds == settings.admin_role_cache_seconds
    assert verifier.roles.auth.client is verifier.keys.client is kit.http_client()
