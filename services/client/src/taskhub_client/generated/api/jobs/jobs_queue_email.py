from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.email_job_create import EmailJobCreate
from ...models.error_response import ErrorResponse
from ...models.job_accepted import JobAccepted
from ...types import UNSET, Unset
from typing import cast



def _get_kwargs(
    *,
    body: EmailJobCreate,
    idempotency_key: None | str | Unset = UNSET,

) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key



    

    

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/notify/email",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> ErrorResponse | JobAccepted | None:
    if response.status_code == 200:
        response_200 = JobAccepted.from_dict(response.json())



        return response_200

    if response.status_code == 202:
        response_202 = JobAccepted.from_dict(response.json())



        return response_202

    if response.status_code == 401:
        response_401 = ErrorResponse.from_dict(response.json())



        return response_401

    if response.status_code == 403:
        response_403 = ErrorResponse.from_dict(response.json())



        return response_403

    if response.status_code == 409:
        response_409 = ErrorResponse.from_dict(response.json())



        return response_409

    if response.status_code == 422:
        response_422 = ErrorResponse.from_dict(response.json())



        return response_422

    if response.status_code == 429:
        response_429 = ErrorResponse.from_dict(response.json())



        return response_429

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[ErrorResponse | JobAccepted]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: EmailJobCreate,
    idempotency_key: None | str | Unset = UNSET,

) -> Response[ErrorResponse | JobAccepted]:
    """ Queue Email

     Queue an e-mail now, or at `send_at`. At most `NOTIFY_SUBMIT_RATE_LIMIT` (default 60/minute, a
    moving window) e-mail and webhook submissions per user together; every authenticated attempt counts.
    Over the limit: 429 with `Retry-After`.

    Args:
        idempotency_key (None | str | Unset): Makes a retried request return the job the first one
            created.
        body (EmailJobCreate):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorResponse | JobAccepted]
     """


    kwargs = _get_kwargs(
        body=body,
idempotency_key=idempotency_key,

    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)

def sync(
    *,
    client: AuthenticatedClient,
    body: EmailJobCreate,
    idempotency_key: None | str | Unset = UNSET,

) -> ErrorResponse | JobAccepted | None:
    """ Queue Email

     Queue an e-mail now, or at `send_at`. At most `NOTIFY_SUBMIT_RATE_LIMIT` (default 60/minute, a
    moving window) e-mail and webhook submissions per user together; every authenticated attempt counts.
    Over the limit: 429 with `Retry-After`.

    Args:
        idempotency_key (None | str | Unset): Makes a retried request return the job the first one
            created.
        body (EmailJobCreate):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorResponse | JobAccepted
     """


    return sync_detailed(
        client=client,
body=body,
idempotency_key=idempotency_key,

    ).parsed

async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: EmailJobCreate,
    idempotency_key: None | str | Unset = UNSET,

) -> Response[ErrorResponse | JobAccepted]:
    """ Queue Email

     Queue an e-mail now, or at `send_at`. At most `NOTIFY_SUBMIT_RATE_LIMIT` (default 60/minute, a
    moving window) e-mail and webhook submissions per user together; every authenticated attempt counts.
    Over the limit: 429 with `Retry-After`.

    Args:
        idempotency_key (None | str | Unset): Makes a retried request return the job the first one
            created.
        body (EmailJobCreate):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorResponse | JobAccepted]
     """


    kwargs = _get_kwargs(
        body=body,
idempotency_key=idempotency_key,

    )

    response = await client.get_async_httpx_client().request(
        **kwargs
    )

    return _build_response(client=client, response=response)

async def asyncio(
    *,
    client: AuthenticatedClient,
    body: EmailJobCreate,
    idempotency_key: None | str | Unset = UNSET,

) -> ErrorResponse | JobAccepted | None:
    """ Queue Email

     Queue an e-mail now, or at `send_at`. At most `NOTIFY_SUBMIT_RATE_LIMIT` (default 60/minute, a
    moving window) e-mail and webhook submissions per user together; every authenticated attempt counts.
    Over the limit: 429 with `Retry-After`.

    Args:
        idempotency_key (None | str | Unset): Makes a retried request return the job the first one
            created.
        body (EmailJobCreate):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorResponse | JobAccepted
     """


    return (await asyncio_detailed(
        client=client,
body=body,
idempotency_key=idempotency_key,

    )).parsed
