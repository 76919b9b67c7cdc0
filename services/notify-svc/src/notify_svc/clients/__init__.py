"""Clients of other TaskHub services."""
