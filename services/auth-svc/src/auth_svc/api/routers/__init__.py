"""The HTTP routers of auth_svc, in the order the app includes them."""

from fastapi import APIRouter

from auth_svc.api.routers import api_keys, audit, auth, internal, users

ROUTERS: list[APIRouter] = [
    auth.router,
    users.router,
    api_keys.router,
    audit.router,
    internal.router,
]
