"""The one URL type of every service's input: an http(s) URL parsed completely at the edge.

A URL is parsed again later (by the webhook sender, in a worker); anything that parser
would choke on (an invalid IDNA host, a port out of range) must be a 422 when the URL is
first sent, never an exception in a worker that leaves a job stuck.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated

import httpx
from pydantic import AfterValidator, HttpUrl, StringConstraints, TypeAdapter, ValidationError
from pydantic_core import PydanticCustomError

from taskhub_common.text import SafeText

MAX_URL_LENGTH = 2048
ALLOWED_SCHEMES = frozenset({"http", "https"})
HTTP_URL_MESSAGE = "must be an http(s) URL"
HOST_MESSAGE = "must have a host that is a valid domain name (IDNA) or IP address"
PORT_MESSAGE = "must have a port from 1 to 65535"
# A DNS name in its ASCII (IDNA) form; `_` is allowed, as resolvers allow it.
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_-]{1,63}$")
_HTTP_URL: TypeAdapter[HttpUrl] = TypeAdapter(HttpUrl)


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _invalid(message: str) -> PydanticCustomError:
    return PydanticCustomError("url_invalid", message)


def _message_of(error: ValidationError) -> str:
    reason = " ".join(str(detail["msg"]) for detail in error.errors())
    if "port" in reason:
        return PORT_MESSAGE
    if "domain" in reason:
        return HOST_MESSAGE
    return HTTP_URL_MESSAGE


def _parse(value: str) -> httpx.URL:
    try:
        _HTTP_URL.validate_python(value)  # scheme and shape, as the WHATWG parser sees them
        url = httpx.URL(value)
    except ValidationError as exc:
        raise _invalid(_message_of(exc)) from None
    except (httpx.InvalidURL, ValueError, TypeError):  # idna.IDNAError is a ValueError
        raise _invalid(HOST_MESSAGE) from None
    if url.scheme not in ALLOWED_SCHEMES:
        raise _invalid(HTTP_URL_MESSAGE)
    return url


def _check_host(url: httpx.URL) -> None:
    try:
        # `host` decodes `xn--` labels (IDNA): the sender reads it, so it must decode here.
        host = url.host
        ascii_host = url.raw_host.decode("ascii").rstrip(".").lower()
    except (ValueError, UnicodeError):
        raise _invalid(HOST_MESSAGE) from None
    if not host or not (_is_ip_literal(ascii_host) or _HOSTNAME.match(ascii_host)):
        raise _invalid(HOST_MESSAGE)


def check_http_url(value: str) -> str:
    """`value` unchanged if it is an http(s) URL the webhook sender can use as it is."""
    url = _parse(value)
    _check_host(url)
    if url.port is not None and not 1 <= url.port <= 65535:
        raise _invalid(PORT_MESSAGE)
    return value


# Every URL field of every service; the client's own spelling is kept.
HttpUrlText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_URL_LENGTH),
    SafeText,
    AfterValidator(check_http_url),
]
