"""Safeguarding information-sharing hub.

`create_app()` builds the Flask application; every feature lives in its own package
(`hub/auth`, `hub/people`, `hub/audit`, ...) with the same inner shape:
service.py, views.py, forms.py, templates/<package>/; its tables are hub/models/<package>.py,
below the access rules (README, Architecture: the layers).
"""


def create_app(test_config: dict | None = None):
    # Imported here so that light modules (hub.audit.verify, hub.audit.merkle) load without Flask.
    from hub.app import create_app as _create_app  # noqa: PLC0415 - see above

    return _create_app(test_config)
