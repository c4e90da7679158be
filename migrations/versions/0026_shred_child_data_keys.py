"""child_data_key: each child's own data key (envelope encryption, for crypto-shredding)

Every child gets a random data key, stored only wrapped by the hub's field key (HUB_FIELD_KEYS,
needed here), and every existing child-scoped field (the child's name, date of birth and
identifiers, the profile, and the records about that one child: hub.models.child_keys) is
re-encrypted under it, as `ck1.<key id>.<Fernet token>`. A row about no child stays under the field
key. A thousand rows at a time; at 20,000 children with their records this takes a minute or two.

Also the indexes destruction needs (hub.models.destruction_indexes): every column pointing at a
share, an episode or a child that destruction deletes or clears by, so that destroying N records no
longer scans those tables once per record.

Downgrade puts every field back under the field key and drops the keys.

Revision ID: 0026_shred_keys
Revises: 0025_dposcope
"""
import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from cryptography.fernet import Fernet

revision = '0026_shred_keys'
down_revision = '0025_dposcope'
branch_labels = None
depends_on = None

BATCH = 1000
PREFIX = "ck1."

#: Child-scoped tables as they stand at this revision: (table, columns, how a row finds its child).
#: The child expression is SQL over the table aliased `t`.
SCOPED = [
    ("child", ["given_name", "family_name", "date_of_birth"], "t.id"),
    ("child_identifier", ["value"], "t.child_id"),
    ("break_glass_grant", ["reason"], "t.child_id"),
    ("philomena_profile", ["physical_description", "photo", "friends_and_associates", "addresses_and_places",
                           "phone_numbers", "medical_needs", "money", "social_media", "transport", "clothing",
                           "last_seen"], "t.child_id"),
    ("missing_episode", ["missing_from_detail", "found_where"], "t.child_id"),
    ("share_record", ["summary", "content", "purpose", "source_description", "rationale",
                      "family_not_told_reason", "supersede_reason"], "t.child_id"),
    ("share_draft", ["answers"], "t.child_id"),
    ("consent_record", ["giver_description", "competence_note", "withdrawn_reason"], "t.child_id"),
    ("mace_link", ["source"], "t.child_id"),
    ("mace_agenda_item", ["minutes", "decisions"], "t.child_id"),
    ("mace_action", ["description", "serving_officer"], "t.child_id"),
    ("mace_outcome", ["outcome", "system_reference"], "t.child_id"),
    ("share_recipient", ["revoked_reason"], "(SELECT s.child_id FROM share_record s WHERE s.id = t.share_id)"),
    ("notification", ["school_action"],
     "(SELECT e.child_id FROM missing_episode e WHERE e.id = t.episode_id)"),
]


#: (table, column) indexed as ix_<table>_<column>.
POINTERS = [
    ("share_record", "origin_share_id"), ("share_access", "share_id"), ("missing_episode", "return_interview_share_id"),
    ("mace_link", "share_id"), ("notification_reply", "share_id"), ("philomena_release", "share_id"),
    ("import_review_item", "child_id"), ("import_review_item", "episode_id"), ("break_glass_grant", "child_id"),
    ("share_draft", "child_id"), ("mace_outcome", "child_id"), ("mace_action", "child_id"),
]


def _field_keys():
    from hub import crypto  # the app's keyring: the migration runs inside the app (migrations/env.py)

    return crypto._fernet()


def upgrade() -> None:
    op.create_table(
        'child_data_key',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('child_id', sa.Integer(), nullable=True),
        sa.Column('wrapped_key', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('destroyed_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_child_data_key')),
    )
    op.create_index(op.f('ix_child_data_key_child_id'), 'child_data_key', ['child_id'], unique=False)
    for table, column in POINTERS:
        op.create_index(op.f(f'ix_{table}_{column}'), table, [column], unique=False)
    # Plain ADD / DROP COLUMN (SQLite has both): a batch copy of `child` would trip its foreign keys.
    op.add_column('child', sa.Column('data_key_id', sa.String(length=32), nullable=True))
    bind = op.get_bind()
    field = _field_keys()
    keys: dict[int, tuple[str, Fernet]] = {}
    last = 0
    now = datetime.now(UTC)
    while True:
        ids = bind.execute(sa.text("SELECT id FROM child WHERE id > :last ORDER BY id LIMIT :n"),
                           {"last": last, "n": BATCH}).scalars().all()
        if not ids:
            break
        rows = []
        for child_id in ids:
            key = Fernet.generate_key()
            key_id = secrets.token_hex(16)
            keys[child_id] = (key_id, Fernet(key))
            rows.append({"id": key_id, "child_id": child_id, "wrapped_key": field.encrypt(key).decode("ascii"),
                         "created_at": now})
        bind.execute(sa.text("INSERT INTO child_data_key (id, child_id, wrapped_key, created_at) "
                             "VALUES (:id, :child_id, :wrapped_key, :created_at)"), rows)
        bind.execute(sa.text("UPDATE child SET data_key_id = :key_id WHERE id = :child_id"),
                     [{"key_id": keys[c][0], "child_id": c} for c in ids])
        last = ids[-1]

    def to_child(token: str, child_id: int | None) -> str:
        if token.startswith(PREFIX) or child_id not in keys:
            return token
        key_id, fernet = keys[child_id]
        return f"{PREFIX}{key_id}.{fernet.encrypt(field.decrypt(token.encode('ascii'))).decode('ascii')}"

    _rewrite(bind, to_child)


def _rewrite(bind, change) -> None:
    for table, columns, child in SCOPED:
        last = None  # ids are integers, or text (share_draft): the first page has no lower bound
        picked = ", ".join(f"t.{c}" for c in columns)
        while True:
            after = "" if last is None else "WHERE t.id > :last "
            # bandit B608: the table and column names are this file's constants, the values bound.
            rows = bind.execute(sa.text(f"SELECT t.id, {child} AS child_id, {picked} FROM {table} t "  # nosec B608
                                        f"{after}ORDER BY t.id LIMIT :n"), {"last": last, "n": BATCH}).all()
            if not rows:
                break
            updates = []
            for row in rows:
                values = {c: (None if v is None else change(v, row[1])) for c, v in zip(columns, row[2:], strict=True)}
                if any(values[c] != v for c, v in zip(columns, row[2:], strict=True)):
                    updates.append({"row_id": row[0], **values})
            if updates:
                sets = ", ".join(f"{c} = :{c}" for c in columns)
                # bandit B608: as above, names from SCOPED only.
                bind.execute(sa.text(f"UPDATE {table} SET {sets} WHERE id = :row_id"), updates)  # nosec B608
            last = rows[-1][0]


def downgrade() -> None:
    bind = op.get_bind()
    field = _field_keys()
    keys = {key_id: Fernet(field.decrypt(wrapped.encode("ascii"))) for key_id, wrapped in bind.execute(
        sa.text("SELECT id, wrapped_key FROM child_data_key WHERE wrapped_key IS NOT NULL")).all()}

    def to_field(token: str, _child_id) -> str:
        if not token.startswith(PREFIX):
            return token
        key_id, inner = token[len(PREFIX):].split(".", 1)
        return field.encrypt(keys[key_id].decrypt(inner.encode("ascii"))).decode("ascii")

    _rewrite(bind, to_field)
    op.drop_column('child', 'data_key_id')
    for table, column in POINTERS:
        op.drop_index(op.f(f'ix_{table}_{column}'), table_name=table)
    op.drop_index(op.f('ix_child_data_key_child_id'), table_name='child_data_key')
    op.drop_table('child_data_key')
