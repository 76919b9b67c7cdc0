"""Scenarios of features/docs.feature."""

from pytest_bdd import scenarios

scenarios("../../features/docs.feature")
