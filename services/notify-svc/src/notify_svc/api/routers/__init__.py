"""The HTTP routers of notify_svc, in the order the app includes them."""

from fastapi import APIRouter

ROUTERS: list[APIRouter] = []
