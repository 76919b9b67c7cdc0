"""Annotated dependency aliases of the task API: the caller, the session, collaborators."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from fastapi import Depends, Response, Security

from task_svc.core.config import get_settings
from task_svc.db.session import DbSession, Reads, kit, redis
from task_svc.read_models.page_cache import ListPageCache
from task_svc.services.assignees import UserDirectory
from taskhub_common.api_keys import Scope
from taskhub_common.auth import Principal, principal_dependency
from taskhub_common.rate_limit import Quota, UserRateLimiter, redis_storage
from taskhub_common.service import AuthServiceClients, admin_dependency

__all__ = [
    "AdminUser",
    "CreationQuota",
    "CurrentUser",
    "DbSession",
    "ListCache",
    "Reads",
    "TasksReader",
    "TasksWriter",
    "Users",
]

auth_service = AuthServiceClients(kit, get_settings())

# Tests replace this dependency (app.dependency_overrides) with one on their own verifier.
current_principal = principal_dependency(auth_service.token_verifier, auth_service.api_key_lookup)
CurrentUser = Annotated[Principal, Depends(current_principal)]
AdminUser = Annotated[Principal, Depends(admin_dependency(current_principal))]
# The scope an API key needs for an endpoint (an access token has them all); declared with
# `Security` so the OpenAPI document lists it.
TasksReader = Annotated[Principal, Security(current_principal, scopes=[Scope.TASKS_READ])]
TasksWriter = Annotated[Principal, Security(current_principal, scopes=[Scope.TASKS_WRITE])]


# Dependencies below are `async def` although they do not await: FastAPI runs a plain
# `def` dependency in its thread pool, a thread hop per request for nothing.


async def user_directory() -> UserDirectory:
    settings = get_settings()
    return UserDirectory(
        auth_service.endpoint(),
        redis=redis,
        positive_ttl_seconds=settings.assignee_cache_seconds,
        negative_ttl_seconds=settings.assignee_negative_cache_seconds,
    )


Users = Annotated[UserDirectory, Depends(user_directory)]


@lru_cache
def _list_page_cache() -> ListPageCache:
    return ListPageCache(get_settings().list_cache_bytes)


async def list_page_cache() -> ListPageCache:
    return _list_page_cache()


ListCache = Annotated[ListPageCache, Depends(list_page_cache)]


@lru_cache
def _creation_limiter() -> UserRateLimiter:
    settings = get_settings()
    return UserRateLimiter(
        redis_storage(settings.redis_url, connection_pool=redis.connection_pool),
        settings.create_rate_limit,
        policy="create",
        metric_label="task_create",
    )


async def creation_limiter() -> UserRateLimiter:
    return _creation_limiter()


async def creation_quota(
    user: TasksWriter,
    response: Response,
    limiter: Annotated[UserRateLimiter, Depends(creation_limiter)],
) -> Quota | None:
    """Count this creation attempt against the caller's quota (429 when it is spent).

    It runs for every authenticated attempt, including ones whose body is then refused:
    this also caps how fast `assignee_id` can be used to probe which user ids exist.
    """
    quota = await limiter.consume(user.user_id)
    if quota is not None:
        response.headers.update(quota.headers())
    return quota


CreationQuota = Annotated[Quota | None, Depends(creation_quota)]
