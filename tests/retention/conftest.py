"""The retention tests' shared world (tests/retention/test_retention.py defines it), and the empty
database a restore goes into (tests/test_backup_restore.py)."""

from tests.retention.test_retention import world  # noqa: F401 - a fixture, registered by import
from tests.test_backup_restore import fresh_database_url  # noqa: F401 - a fixture, registered by import
