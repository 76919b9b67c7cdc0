"""The HTTP routers of notify_svc, in the order the app includes them."""

from fastapi import APIRouter

from notify_svc.api.routers import internal, jobs

ROUTERS: list[APIRouter] = [jobs.router, internal.router]
