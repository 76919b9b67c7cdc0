"""Scenarios of features/security/*.feature (OWASP API Security Top 10)."""

from pytest_bdd import scenarios

scenarios("../../features/security")
