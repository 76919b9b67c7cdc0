"""The HTTP routers of auth_svc, in the order the app includes them."""

from fastapi import APIRouter

from auth_svc.api.routers import audit, auth, internal, users

ROUTERS: list[APIRouter] = [auth.router, users.router, audit.router, internal.router]
