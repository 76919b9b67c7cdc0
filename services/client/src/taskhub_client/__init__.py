"""TaskHub's typed Python client.

`taskhub_client.generated` is generated from the gateway's OpenAPI document (never edit it:
`uv run nox -s client` regenerates it); this package adds the session (`TaskHub`,
`AsyncTaskHub`), the error envelope as `TaskHubError`, pages and retries.
"""

from taskhub_client.hub import AsyncTaskHub, TaskHub, TaskHubError

__all__ = ["AsyncTaskHub", "TaskHub", "TaskHubError"]
