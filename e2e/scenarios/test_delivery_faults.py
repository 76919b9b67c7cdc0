"""Scenarios of features/delivery_faults.feature."""

from pytest_bdd import scenarios

scenarios("../../features/delivery_faults.feature")
