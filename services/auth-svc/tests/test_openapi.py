"""The published description: every operation is `tag.action`, unique, errors as the envelope."""

from __future__ import annotations

from typing import Any

import pytest

from taskhub_common.openapi import HTTP_METHODS, document_problems


def _document() -> dict[str, Any]:
    from auth_svc.main import app

    return app.openapi()


OPERATIONS = [
    (path, method)
    for path, item in _document()["paths"].items()
    for method in item
    if method in HTTP_METHODS
]


def test_the_document_has_operations() -> None:
    assert len(OPERATIONS) > 2


@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_each_operation_is_named_and_documents_its_errors(path: str, method: str) -> None:
    document = _document()
    alone = {"paths": {path: {method: document["paths"][path][method]}}}
    assert document_problems(alone) == []


def test_no_two_operations_share_an_id() -> None:
    assert document_problems(_document()) == []


def test_internal_routes_are_not_published() -> None:
    assert not [path for path in _document()["paths"] if "/internal" in path]
