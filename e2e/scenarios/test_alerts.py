"""Scenarios of features/alerts.feature."""

from pytest_bdd import scenarios

scenarios("../../features/alerts.feature")
