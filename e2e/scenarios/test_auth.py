"""Scenarios of features/auth.feature."""

from pytest_bdd import scenarios

scenarios("../../features/auth.feature")
