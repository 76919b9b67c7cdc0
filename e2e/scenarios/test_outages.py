"""Scenarios of features/outages.feature."""

from pytest_bdd import scenarios

scenarios("../../features/outages.feature")
