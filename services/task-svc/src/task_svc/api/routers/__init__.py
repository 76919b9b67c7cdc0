"""The HTTP routers of task_svc, in the order the app includes them."""

from fastapi import APIRouter

ROUTERS: list[APIRouter] = []
