"""The HTTP routers of task_svc, in the order the app includes them."""

from fastapi import APIRouter

from task_svc.api.routers.outbox import router as outbox_router
from task_svc.api.routers.tasks import router as tasks_router

# The outbox's fixed paths come first: `/tasks/{task_id}` would otherwise match them.
ROUTERS: list[APIRouter] = [outbox_router, tasks_router]
