"""`/internal/` routes admit only callers presenting the shared service token."""

from __future__ import annotations

import httpx
from fastapi import Depends, FastAPI
from pydantic import SecretStr

from taskhub_common.errors import install_error_handlers
from taskhub_common.internal import INTERNAL_TOKEN_HEADER, internal_token_guard


async def test_only_the_right_token_passes() -> None:
    app = FastAPI()
    install_error_handlers(app)
    guard = internal_token_guard(SecretStr("s3cret-token"))

    @app.get("/internal/ping", dependencies=[Depends(guard)])
    async def ping() -> dict[str, bool]:
        return {"ok": True}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        ok = await client.get("/internal/ping", headers={INTERNAL_TOKEN_HEADER: "s3cret-token"})
        assert ok.status_code == 200
        for headers in ({}, {INTERNAL_TOKEN_HEADER: "wrong"}, {INTERNAL_TOKEN_HEADER: ""}):
            refused = await client.get("/internal/ping", headers=headers)
            assert refused.status_code == 401
            assert refused.json()["error"]["code"] == "UNAUTHORIZED"
