from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.error_response import ErrorResponse
from ...models.task_create import TaskCreate
from ...models.task_read import TaskRead
from typing import cast



def _get_kwargs(
    *,
    body: TaskCreate,

) -> dict[str, Any]:
    headers: dict[str, Any] = {}


    

    

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/tasks",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> ErrorResponse | TaskRead | None:
    if response.status_code == 201:
        response_201 = TaskRead.from_dict(response.json())



        return response_201

    if response.status_code == 401:
        response_401 = ErrorResponse.from_dict(response.json())



        return response_401

    if response.status_code == 403:
        response_403 = ErrorResponse.from_dict(response.json())



        return response_403

    if response.status_code == 422:
        response_422 = ErrorResponse.from_dict(response.json())



        return response_422

    if response.status_code == 429:
        response_429 = ErrorResponse.from_dict(response.json())



        return response_429

    if response.status_code == 503:
        response_503 = ErrorResponse.from_dict(response.json())



        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[ErrorResponse | TaskRead]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: TaskCreate,

) -> Response[ErrorResponse | TaskRead]:
    """ Create a task owned by the caller

     At most `TASKS_CREATE_RATE_LIMIT` (default 60/minute, a moving window) creations per user; every
    authenticated attempt counts, also one refused with 422. Over the limit: 429 with `Retry-After`.
    `assignee_id` must be a user of auth-svc (422 otherwise, 503 when auth-svc cannot answer).

    Args:
        body (TaskCreate):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorResponse | TaskRead]
     """


    kwargs = _get_kwargs(
        body=body,

    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)

def sync(
    *,
    client: AuthenticatedClient,
    body: TaskCreate,

) -> ErrorResponse | TaskRead | None:
    """ Create a task owned by the caller

     At most `TASKS_CREATE_RATE_LIMIT` (default 60/minute, a moving window) creations per user; every
    authenticated attempt counts, also one refused with 422. Over the limit: 429 with `Retry-After`.
    `assignee_id` must be a user of auth-svc (422 otherwise, 503 when auth-svc cannot answer).

    Args:
        body (TaskCreate):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorResponse | TaskRead
     """


    return sync_detailed(
        client=client,
body=body,

    ).parsed

async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: TaskCreate,

) -> Response[ErrorResponse | TaskRead]:
    """ Create a task owned by the caller

     At most `TASKS_CREATE_RATE_LIMIT` (default 60/minute, a moving window) creations per user; every
    authenticated attempt counts, also one refused with 422. Over the limit: 429 with `Retry-After`.
    `assignee_id` must be a user of auth-svc (422 otherwise, 503 when auth-svc cannot answer).

    Args:
        body (TaskCreate):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorResponse | TaskRead]
     """


    kwargs = _get_kwargs(
        body=body,

    )

    response = await client.get_async_httpx_client().request(
        **kwargs
    )

    return _build_response(client=client, response=response)

async def asyncio(
    *,
    client: AuthenticatedClient,
    body: TaskCreate,

) -> ErrorResponse | TaskRead | None:
    """ Create a task owned by the caller

     At most `TASKS_CREATE_RATE_LIMIT` (default 60/minute, a moving window) creations per user; every
    authenticated attempt counts, also one refused with 422. Over the limit: 429 with `Retry-After`.
    `assignee_id` must be a user of auth-svc (422 otherwise, 503 when auth-svc cannot answer).

    Args:
        body (TaskCreate):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorResponse | TaskRead
     """


    return (await asyncio_detailed(
        client=client,
body=body,

    )).parsed
