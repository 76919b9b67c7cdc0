"""Scenarios of features/gateway.feature."""

from pytest_bdd import scenarios

scenarios("../../features/gateway.feature")
