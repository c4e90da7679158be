"""One compact world per test module (tests/permissions/world.py), asked many questions.

A mutation run (`make proof-permissions`) runs these tests once per mutant: with
HUB_ACCESS_WORLD_CACHE set to a folder, the world is built once (by the unmutated code) into a
SQLite file there and each run starts from a copy, so a mutant is judged by the rules' answers,
not by whether the world could be built, and a run costs a fraction of a second instead of three.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from hub import create_app, db
from tests.permissions.world import AccessWorld, build_access_world, load_access_world, world_ids

CACHE = os.environ.get("HUB_ACCESS_WORLD_CACHE")
#: The secrets the cached world's encrypted fields and keyed indexes were written with.
KEYS = ("HUB_FIELD_KEYS", "HUB_BLIND_INDEX_KEY", "HUB_AUDIT_SIGNING_KEY")


@pytest.fixture(scope="module")
def world_app(module_database_url):
    """The app on the module's own database, holding the world (from the cache when there is one)."""
    cached = Path(CACHE) / "world.sqlite3" if CACHE else None
    if cached is not None and cached.exists() and module_database_url.startswith("sqlite:///"):
        shutil.copy(cached, module_database_url.removeprefix("sqlite:///"))
        os.environ.update(json.loads((cached.parent / "keys.json").read_text()))
    app = create_app({"env": "testing", "database_url": module_database_url})
    yield app
    db.session.remove()
    app.extensions["hub_engine"].dispose()


@pytest.fixture(scope="module")
def world(world_app, module_database_url) -> AccessWorld:
    cached = Path(CACHE) if CACHE else None
    with world_app.app_context():
        if cached is not None and (cached / "world.json").exists() and module_database_url.startswith("sqlite:///"):
            return load_access_world(json.loads((cached / "world.json").read_text()))
        built = build_access_world()
        if cached is not None and module_database_url.startswith("sqlite:///"):
            cached.mkdir(parents=True, exist_ok=True)
            db.session.remove()
            # The online backup API: a plain copy would miss what is still in the write-ahead log.
            with sqlite3.connect(module_database_url.removeprefix("sqlite:///")) as source, \
                    sqlite3.connect(cached / "world.sqlite3") as target:
                source.backup(target)
            (cached / "world.json").write_text(json.dumps(world_ids(built)))
            (cached / "keys.json").write_text(json.dumps({key: os.environ[key] for key in KEYS}))
            return load_access_world(world_ids(built))
    return built


@pytest.fixture(autouse=True)
def _context(world_app, world):
    """Each test in the world's app and database (another module's app may have come between)."""
    db.bind(world_app.extensions["hub_engine"])
    with world_app.test_request_context():
        yield
    db.session.remove()
