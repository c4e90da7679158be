"""The retention tests' shared world (tests/retention/test_retention.py defines it)."""

from tests.retention.test_retention import world  # noqa: F401 - a fixture, registered by import
