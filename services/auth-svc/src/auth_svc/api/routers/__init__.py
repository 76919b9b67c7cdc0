"""The HTTP routers of auth_svc, in the order the app includes them."""

from fastapi import APIRouter

ROUTERS: list[APIRouter] = []
