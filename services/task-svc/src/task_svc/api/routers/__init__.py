"""The HTTP routers of task_svc, in the order the app includes them."""

from fastapi import APIRouter

from task_svc.api.routers.tasks import router as tasks_router

ROUTERS: list[APIRouter] = [tasks_router]
