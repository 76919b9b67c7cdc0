"""Scenarios of features/flagship.feature."""

from pytest_bdd import scenarios

scenarios("../../features/flagship.feature")
