"""Starlette's CORS middleware, with a refused preflight answered in the error envelope."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from taskhub_common.errors import error_response

REFUSED_PREFLIGHT_MESSAGE = "This cross-origin request is not allowed."


class EnvelopeCORSMiddleware(CORSMiddleware):
    """Answers a refused preflight with the 403 envelope instead of Starlette's plain text 400.

    Every non-2xx answer of TaskHub is the JSON envelope (API.md); no Allow-Origin header is
    sent either way, so browsers still refuse the call.
    """

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        refused = error_response(403, "FORBIDDEN", REFUSED_PREFLIGHT_MESSAGE)
        # Caches must still key the answer on the request's origin and method.
        refused.headers["Vary"] = response.headers.get("vary", "Origin")
        return refused
