"""Scenarios of features/tasks.feature."""

from pytest_bdd import scenarios

scenarios("../../features/tasks.feature")
