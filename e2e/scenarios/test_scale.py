"""Scenarios of features/scale.feature."""

from pytest_bdd import scenarios

scenarios("../../features/scale.feature")
