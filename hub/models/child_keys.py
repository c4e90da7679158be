"""Which encrypted columns are under a child's own data key, and the scoping of their values as they
are written (envelope encryption, hub.crypto; crypto-shredding, hub.retention.shredding).

A child-scoped table holds personal data about one child: the child's own row, identifiers and
profile, and the records about that one child (a share's content, an episode's notes, a consent's
giver, MACE minutes about the child...). Every EncryptedText column of such a table is encrypted
under the data key of the child the row is about, so destroying that key makes every copy of the
row's fields unreadable. A row about no child (a share about a location, an agenda item about a
place) stays under the field keys, as do the hub's own secrets (TOTP, an SSO client secret), the
organisations' texts (hold reasons, schedule reasons) and import files (many children at once).

The values are scoped in the ORM's `before_insert` / `before_update` (the one place every ORM
write passes); a Core insert of a child-scoped table scopes its values itself with `key_for_child`
(hub.missing.service does). An ORM bulk insert (`session.execute(insert(Model), rows)`) passes
no hook either: a value it does not scope lands under the field key, readable and rotated like any
hub-level field but not shredded with the child (the benchmarks' loaders write so). A child's data
key is made with the child's row. A value read under one child's key and written into a table about
no child goes under the field key (`_hub_level`).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from sqlalchemy import event, insert, inspect, select, update
from sqlalchemy.engine import Connection

from hub import crypto, db
from hub.crypto import EncryptedText, scoped
from hub.db import Base, utcnow
from hub.models.consent import ConsentRecord
from hub.models.mace import MaceAction, MaceAgendaItem, MaceLink, MaceOutcome
from hub.models.missing import MissingEpisode, PhilomenaProfile
from hub.models.notifications import Notification
from hub.models.people import BreakGlassGrant, Child, ChildDataKey, ChildIdentifier
from hub.models.sharing import ShareDraftRecord, ShareRecipient, ShareRecord


def _own_child(_connection: Connection, target) -> int | None:
    return target.child_id


def _share_child(connection: Connection, target) -> int | None:
    return connection.scalar(select(ShareRecord.child_id).where(ShareRecord.id == target.share_id))


def _episode_child(connection: Connection, target) -> int | None:
    return connection.scalar(select(MissingEpisode.child_id).where(MissingEpisode.id == target.episode_id))


#: Each child-scoped model (besides Child) and how a row finds the child it is about.
CHILD_SCOPED: dict[type, Callable[[Connection, object], int | None]] = {
    ChildIdentifier: _own_child, BreakGlassGrant: _own_child, PhilomenaProfile: _own_child,
    MissingEpisode: _own_child, ShareRecord: _own_child, ShareDraftRecord: _own_child,
    ConsentRecord: _own_child, MaceLink: _own_child, MaceAgendaItem: _own_child, MaceAction: _own_child,
    MaceOutcome: _own_child, ShareRecipient: _share_child, Notification: _episode_child,
}


def scoped_columns(model: type) -> list[str]:
    """The attribute names of a model's encrypted columns."""
    return [attr.key for attr in inspect(model).column_attrs
            if any(isinstance(c.type, EncryptedText) for c in attr.columns)]


def child_scoped_tables() -> set[str]:
    return {model.__table__.name for model in (Child, *CHILD_SCOPED)}


def _key_ids() -> dict[int, str]:
    """Child id -> data key id, per session (a child's key never changes)."""
    return db.session().info.setdefault("hub_child_key_ids", {})


def key_for_child(connection: Connection, child_id: int | None) -> str | None:
    """The id of the child's data key (None for no child, or a child from before keys existed)."""
    if child_id is None:
        return None
    known = _key_ids()
    if child_id not in known:
        key_id = connection.scalar(select(Child.data_key_id).where(Child.id == child_id))
        if key_id is None:
            return None
        known[child_id] = key_id
    return known[child_id]


def make_key(connection: Connection, child_id: int | None = None) -> str:
    """A new data key, stored wrapped; its id."""
    key, wrapped = crypto.new_data_key()
    key_id = secrets.token_hex(16)
    connection.execute(insert(ChildDataKey), {"id": key_id, "child_id": child_id, "wrapped_key": wrapped,
                                              "created_at": utcnow()})
    crypto.remember_key(key_id, key)
    return key_id


def _scope(target, key_id: str | None, columns: list[str], inserting: bool) -> None:
    state = inspect(target)
    for name in columns:
        if inserting:
            value = state.dict.get(name)
            changed = value is not None
        else:
            added = state.attrs[name].history.added
            value = added[0] if added else None
            changed = bool(added) and value is not None
        if changed and getattr(value, "key_id", None) != key_id:
            setattr(target, name, scoped(value, key_id) if key_id else _plain(value))


def _plain(value):
    """A value read under one child's key, written where no child's key applies."""
    return bytes(value) if isinstance(value, bytes) else str(value)


_CHILD_COLUMNS = scoped_columns(Child)


@event.listens_for(Child, "before_insert")
def _child_inserting(_mapper, connection: Connection, target: Child) -> None:
    if target.data_key_id is None:
        target.data_key_id = make_key(connection)
    _scope(target, target.data_key_id, _CHILD_COLUMNS, inserting=True)


@event.listens_for(Child, "after_insert")
def _child_inserted(_mapper, connection: Connection, target: Child) -> None:
    connection.execute(update(ChildDataKey).where(ChildDataKey.id == target.data_key_id)
                       .values(child_id=target.id))
    _key_ids()[target.id] = target.data_key_id


@event.listens_for(Child, "before_update")
def _child_updating(_mapper, connection: Connection, target: Child) -> None:
    _scope(target, target.data_key_id, _CHILD_COLUMNS, inserting=False)


def _listen(model: type, find_child: Callable[[Connection, object], int | None]) -> None:
    columns = scoped_columns(model)

    def inserting(_mapper, connection: Connection, target) -> None:
        _scope(target, key_for_child(connection, find_child(connection, target)), columns, inserting=True)

    def updating(_mapper, connection: Connection, target) -> None:
        _scope(target, key_for_child(connection, find_child(connection, target)), columns, inserting=False)

    event.listen(model, "before_insert", inserting)
    event.listen(model, "before_update", updating)


for _model, _find in CHILD_SCOPED.items():
    _listen(_model, _find)

_HUB_COLUMNS: dict[type, list[str]] = {}


@event.listens_for(Base, "before_insert", propagate=True)
@event.listens_for(Base, "before_update", propagate=True)
def _hub_level(mapper, _connection: Connection, target) -> None:
    """A value read under a child's key and written into a table about no child (a reason copied
    into a hold, say) goes under the field key: only the child-scoped tables use children's keys."""
    model = mapper.class_
    if model is Child or model in CHILD_SCOPED:
        return
    if model not in _HUB_COLUMNS:
        _HUB_COLUMNS[model] = scoped_columns(model)
    if _HUB_COLUMNS[model]:
        _scope(target, None, _HUB_COLUMNS[model], inserting=inspect(target).key is None)


def _wrapped_key(key_id: str) -> str | None:
    return db.session().connection().scalar(
        select(ChildDataKey.wrapped_key).where(ChildDataKey.id == key_id, ChildDataKey.destroyed_at.is_(None)))


crypto.set_key_reader(_wrapped_key)
