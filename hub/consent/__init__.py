"""Consent records per child, and their withdrawal (issue 4, in progress)."""
