"""One rich world per test module (tests/access/world.py), built once through the services on the
module's own database, and one signed-in test client per user of it."""

from __future__ import annotations

import pyotp
import pytest
from sqlalchemy import event

from hub import create_app, db
from hub.db import unit_of_work, utcnow
from hub.models.auth import User
from tests.access.world import RichWorld, build_rich_world
from tests.factories import sign_in


@pytest.fixture(scope="module")
def rich_app(module_database_url):
    app = create_app({"env": "testing", "database_url": module_database_url})
    if module_database_url.startswith("sqlite"):
        # Thousands of refusals, each audited in its own transaction: a test database need not
        # wait for the disk on each commit.
        event.listen(app.extensions["hub_engine"], "connect",
                     lambda connection, _record: connection.execute("PRAGMA synchronous = OFF"))
    yield app
    db.session.remove()
    app.extensions["hub_engine"].dispose()


@pytest.fixture(scope="module")
def rich_world(rich_app) -> RichWorld:
    db.bind(rich_app.extensions["hub_engine"])
    with rich_app.app_context():
        world = build_rich_world()
        with unit_of_work() as s:
            for user in world.users.values():
                row = s.get(User, user.id)
                row.totp_secret, row.totp_confirmed_at = pyotp.random_base32(), utcnow()
        world.secrets = {name: db.session().get(User, u.id).totp_secret for name, u in world.users.items()}
        db.session.remove()
    return world


@pytest.fixture(scope="module")
def clients(rich_app, rich_world):
    """name -> a test client signed in as that user (sign-in is audited, so made once)."""
    made = {}
    db.bind(rich_app.extensions["hub_engine"])
    # No app context held: the test client would share its `g` (and CSRF token) across requests.
    for name, user in rich_world.users.items():
        client = rich_app.test_client()
        sign_in(client, db.session().get(User, user.id), rich_world.secrets[name])
        made[name] = client
    db.session.remove()
    return made


@pytest.fixture
def in_world(rich_app, rich_world):
    """The test in the world's app and database (another module's app may have come between)."""
    db.bind(rich_app.extensions["hub_engine"])
    with rich_app.app_context():
        yield
    db.session.remove()
