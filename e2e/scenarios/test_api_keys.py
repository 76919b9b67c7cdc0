"""Scenarios of features/api_keys.feature."""

from pytest_bdd import scenarios

scenarios("../../features/api_keys.feature")
