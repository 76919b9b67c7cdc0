"""The HTTP routers of template_svc, in the order the app includes them."""

from fastapi import APIRouter

from template_svc.api.routers.notes import router as notes_router

ROUTERS: list[APIRouter] = [notes_router]
