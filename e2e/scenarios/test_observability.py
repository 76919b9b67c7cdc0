"""Scenarios of features/observability.feature."""

from pytest_bdd import scenarios

scenarios("../../features/observability.feature")
