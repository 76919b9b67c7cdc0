"""Registration, login, token refresh and logout, the caller's profile, and the JWKS."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

from auth_svc.api.deps import CallerClient, CurrentUser, DbSession, RegisterThrottle, Throttle
from auth_svc.core.security import key_store
from auth_svc.schemas.auth import Jwks, LoginRequest, RefreshRequest, RegisterRequest, TokenPair
from auth_svc.schemas.users import UserRead
from auth_svc.services import auth as auth_service
from auth_svc.services import users as user_service
from taskhub_common.errors import error_responses

router = APIRouter(prefix="/auth", tags=["auth"])

# Token responses must not be stored by any cache (RFC 6749 §5.1).
NO_STORE = "no-store"


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserRead,
    responses=error_responses(409, 422, 429, 503),
)
async def register(
    body: RegisterRequest, session: DbSession, throttle: RegisterThrottle, client: CallerClient
) -> Any:
    """Create an account; its role is always `user`. Limited per client address."""
    return await auth_service.register(session, throttle=throttle, data=body, client=client)


@router.post("/login", response_model=TokenPair, responses=error_responses(401, 422, 429, 503))
async def login(
    body: LoginRequest,
    session: DbSession,
    throttle: Throttle,
    client: CallerClient,
    response: Response,
) -> TokenPair:
    """Exchange e-mail and password for an access token and a refresh token."""
    response.headers["Cache-Control"] = NO_STORE
    return await auth_service.login(
        session, throttle=throttle, email=body.email, password=body.password, client=client
    )


@router.post("/refresh", response_model=TokenPair, responses=error_responses(401, 422))
async def refresh(body: RefreshRequest, session: DbSession, response: Response) -> TokenPair:
    """Spend a refresh token for a new pair; a spent token revokes its whole family."""
    response.headers["Cache-Control"] = NO_STORE
    return await auth_service.refresh(session, token=body.refresh)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(401, 422))
async def logout(body: RefreshRequest, session: DbSession) -> None:
    """Revoke the refresh token's family (every session descending from that login)."""
    await auth_service.logout(session, token=body.refresh)


@router.get("/me", response_model=UserRead, responses=error_responses(401))
async def me(principal: CurrentUser, session: DbSession) -> Any:
    """The caller's own account."""
    return await user_service.get_profile(session, principal=principal)


@router.get("/.well-known/jwks.json", response_model=Jwks)
async def jwks(response: Response) -> Any:
    """The public keys that verify TaskHub tokens (more than one while keys rotate)."""
    response.headers["Cache-Control"] = "public, max-age=300"
    return key_store.ring.public_jwks()
