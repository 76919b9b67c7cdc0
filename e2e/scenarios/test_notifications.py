"""Scenarios of features/notifications.feature."""

from pytest_bdd import scenarios

scenarios("../../features/notifications.feature")
