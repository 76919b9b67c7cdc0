"""Registration, login, refresh-token rotation and logout."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from dataclasses import dataclass
from typing import NoReturn

from sqlalchemy.ext.asyncio import AsyncSession

from auth_svc.core.config import get_settings
from auth_svc.core.emails import canonical_email
from auth_svc.core.security import (
    issue_access_token,
    issue_refresh_token,
    passwords,
    verify_refresh_token,
)
from auth_svc.models.user import User
from auth_svc.repositories import login_audit as audit_repository
from auth_svc.repositories import refresh_tokens as token_repository
from auth_svc.repositories import users as user_repository
from auth_svc.schemas.auth import RegisterRequest, TokenPair
from auth_svc.services.errors import EmailTaken, InvalidCredentials
from auth_svc.services.throttle import LoginThrottle, RegistrationThrottle
from taskhub_common.auth import INVALID_TOKEN_MESSAGE, Role
from taskhub_common.errors import RateLimited, TaskHubError, Unauthorized

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Client:
    """Who is calling, as the gateway saw it (for the audit and the per-address limit)."""

    ip: str | None
    user_agent: str | None


async def register(
    session: AsyncSession, *, throttle: RegistrationThrottle, data: RegisterRequest, client: Client
) -> User:
    """Create a `user` account; `EmailTaken` when the (canonical) e-mail exists.

    A taken e-mail is answered before any hashing: the 409 reveals the account anyway, so
    its speed reveals nothing more, and a stream of them costs no argon2 time. A race of
    two registrations of one new address still ends in one insert and one 409.
    """
    await throttle.reserve(ip=client.ip)
    email = canonical_email(data.email)
    if await user_repository.get_by_email(session, email) is not None:
        raise EmailTaken
    password_hash = await passwords.hash(data.password)
    user = await user_repository.insert_new(
        session, email=email, password_hash=password_hash, name=data.name, role=Role.USER
    )
    if user is None:
        raise EmailTaken
    logger.info("user registered", extra={"user_id": str(user.id)})
    return user


async def login(
    session: AsyncSession, *, throttle: LoginThrottle, email: str, password: str, client: Client
) -> TokenPair:
    """A new token family for valid credentials; every attempt lands in the audit."""
    email = canonical_email(email)
    try:
        delay = await throttle.reserve(email=email, ip=client.ip)
    except RateLimited as exc:
        user_id = await _user_id(session, email)
        logger.warning("login throttled", extra=_subject(user_id, email))
        await _fail_audited(session, user_id=user_id, client=client, error=exc)
    if delay:
        # The account's slow-down, before the session takes a database connection: waiting
        # logins hold no pool slot.
        logger.info("login slowed down", extra={"email_hash": email_hash(email), "delay": delay})
        await asyncio.sleep(delay)
    user = await user_repository.get_by_email(session, email)
    user_id = user.id if user is not None else None
    check = await passwords.verify(user.password_hash if user is not None else None, password)
    if user is None or not check.ok:
        logger.info("login failed", extra=_subject(user_id, email))
        await _fail_audited(session, user_id=user_id, client=client, error=InvalidCredentials())
    if check.new_hash is not None:
        await user_repository.set_password_hash(session, user.id, check.new_hash)
    await throttle.forgive(email=email, ip=client.ip)
    await audit_repository.add(
        session, user_id=user.id, ip=client.ip, user_agent=client.user_agent, success=True
    )
    logger.info("login succeeded", extra={"user_id": str(user.id)})
    return await _issue_tokens(session, user=user, family_id=uuid.uuid4())


async def refresh(session: AsyncSession, *, token: str) -> TokenPair:
    """Spend a refresh token for a new pair of the same family.

    A token that was already spent (or revoked) is a sign of theft: the whole family is
    revoked, including the newest token, and that revocation is committed although the
    request fails (RFC 9700 §4.14.2). One exception: a token spent less than
    `refresh_reuse_grace_seconds` ago (and not revoked) buys another pair of the same
    family, so two clients refreshing at once (tabs, a retry after a lost answer) both
    stay signed in. The winner's new token is untouched; the latecomer gets a sibling of
    it, which later rotations and revocations treat like any other member of the family.
    """
    claims = await verify_refresh_token(token)
    record = await token_repository.spend(session, claims.jti)
    if record is None:
        grace = get_settings().refresh_reuse_grace_seconds
        record = await token_repository.spent_within(session, claims.jti, grace)
        if record is not None:
            logger.info(
                "refresh token reused within the grace window",
                extra={"user_id": str(record.user_id)},
            )
    if record is None or record.user_id != claims.user_id:
        await _refuse_refresh(session, jti=claims.jti)
    user = await user_repository.get(session, record.user_id)
    if user is None:
        raise Unauthorized(INVALID_TOKEN_MESSAGE)
    return await _issue_tokens(session, user=user, family_id=record.family_id)


async def logout(session: AsyncSession, *, token: str) -> None:
    """Revoke the family of a (validly signed) refresh token; repeating it changes nothing."""
    claims = await verify_refresh_token(token)
    record = await token_repository.get(session, claims.jti)
    if record is not None:
        await token_repository.revoke_family(session, record.family_id)


async def _issue_tokens(session: AsyncSession, *, user: User, family_id: uuid.UUID) -> TokenPair:
    refresh_token = issue_refresh_token(user_id=user.id, family_id=family_id)
    await token_repository.add(
        session,
        jti=refresh_token.jti,
        family_id=family_id,
        user_id=user.id,
        expires_at=refresh_token.expires_at,
    )
    return TokenPair(
        access=issue_access_token(user_id=user.id, role=Role(user.role)),
        refresh=refresh_token.token,
        expires_in=get_settings().access_token_ttl_seconds,
    )


async def _refuse_refresh(session: AsyncSession, *, jti: uuid.UUID) -> NoReturn:
    record = await token_repository.get(session, jti)
    # Spent means reuse; merely revoked (logout, an earlier reuse) or expired needs no action.
    if record is not None and record.used_at is not None:
        revoked = await token_repository.revoke_family(session, record.family_id)
        logger.warning(
            "refresh token reuse; family revoked",
            extra={"user_id": str(record.user_id), "revoked_tokens": revoked},
        )
        # The revocation must outlive this failing request, whose transaction rolls back.
        await session.commit()
    raise Unauthorized(INVALID_TOKEN_MESSAGE)


async def _fail_audited(
    session: AsyncSession, *, user_id: uuid.UUID | None, client: Client, error: TaskHubError
) -> NoReturn:
    await audit_repository.add(
        session, user_id=user_id, ip=client.ip, user_agent=client.user_agent, success=False
    )
    # Failed attempts stay on record although the request fails (its transaction rolls back).
    await session.commit()
    raise error


async def _user_id(session: AsyncSession, email: str) -> uuid.UUID | None:
    user = await user_repository.get_by_email(session, email)
    return None if user is None else user.id


def _subject(user_id: uuid.UUID | None, email: str) -> dict[str, str | None]:
    """Log fields naming an attempt's target: the user id, and a short hash of the e-mail."""
    return {"user_id": None if user_id is None else str(user_id), "email_hash": email_hash(email)}


def email_hash(email: str) -> str:
    return hashlib.sha256(email.encode()).hexdigest()[:12]
