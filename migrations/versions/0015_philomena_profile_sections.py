"""the Philomena profile in the protocol's sections, with a photo; keyed to the child

Part 1 gains phone numbers, money, social media and transport as their own sections, and the photo
(a Fernet token over a re-encoded JPEG) with the time it was set; part 2 (clothing, where last
seen) is new. The old free text is kept: "phone and social media" becomes the phone numbers
section and "money and transport" the money section (their tokens moved as they are, so no key is
needed), and the old "photograph" description is added to the description (decrypted and
re-encrypted with the hub's keys, only when both were written).

`held_by_org_id` is dropped: the profile is kept by the child's current placing (or home)
authority, computed from the child, so a change of authority moves it.

Downgrade puts the split sections back together and drops part 2 and the photo (the old schema
had no place for them).

Revision ID: 0015
Revises: 0014

"""
import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

NEW_TEXT = ['phone_numbers', 'money', 'social_media', 'transport', 'clothing', 'last_seen']
OLD_PHOTO_NOTE = "About the photo (as described before photos were kept):"


def _join(first: str | None, second: str | None, heading: str = "") -> str | None:
    """Two tokens as one: either when only one is written, else the decrypted texts joined."""
    if first is None or second is None:
        return first if second is None else second
    from hub import crypto

    plain = [crypto.decrypt(first), " ".join(filter(None, [heading, crypto.decrypt(second)]))]
    return crypto.encrypt("\n\n".join(plain))


def _rows(columns: list[str]):
    cols = ", ".join(["id", *columns])
    return op.get_bind().execute(sa.text(f"SELECT {cols} FROM philomena_profile")).all()


def _set(row_id: int, values: dict[str, str | None]) -> None:
    sets = ", ".join(f"{name} = :{name}" for name in values)
    op.get_bind().execute(sa.text(f"UPDATE philomena_profile SET {sets} WHERE id = :id"), {**values, "id": row_id})


def upgrade() -> None:
    with op.batch_alter_table('philomena_profile', schema=None) as batch_op:
        batch_op.add_column(sa.Column('photo', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('photo_updated_at', sa.DateTime(timezone=True), nullable=True))
        for name in NEW_TEXT:
            batch_op.add_column(sa.Column(name, sa.Text(), nullable=True))
    for row_id, physical, photo_note, phone_social, money_transport in _rows(
            ['physical_description', 'photo_description', 'phone_and_social_media', 'money_and_transport']):
        _set(row_id, {'physical_description': _join(physical, photo_note, OLD_PHOTO_NOTE),
                      'phone_numbers': phone_social, 'money': money_transport})
    with op.batch_alter_table('philomena_profile', schema=None) as batch_op:
        batch_op.drop_constraint('fk_philomena_profile_held_by_org_id_organisation', type_='foreignkey')
        batch_op.drop_column('held_by_org_id')
        batch_op.drop_column('photo_description')
        batch_op.drop_column('phone_and_social_media')
        batch_op.drop_column('money_and_transport')


def downgrade() -> None:
    with op.batch_alter_table('philomena_profile', schema=None) as batch_op:
        batch_op.add_column(sa.Column('held_by_org_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('photo_description', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('phone_and_social_media', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('money_and_transport', sa.Text(), nullable=True))
    op.execute(
        "UPDATE philomena_profile SET held_by_org_id = COALESCE("
        "(SELECT COALESCE(child.placing_authority_id, child.responsible_authority_id) FROM child "
        " WHERE child.id = philomena_profile.child_id), "
        "(SELECT user_account.organisation_id FROM user_account "
        " WHERE user_account.id = philomena_profile.updated_by_user_id))")
    for row_id, phone, social, money, transport in _rows(['phone_numbers', 'social_media', 'money', 'transport']):
        _set(row_id, {'phone_and_social_media': _join(phone, social, "Social media:"),
                      'money_and_transport': _join(money, transport, "Transport:")})
    with op.batch_alter_table('philomena_profile', schema=None) as batch_op:
        batch_op.alter_column('held_by_org_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key('fk_philomena_profile_held_by_org_id_organisation', 'organisation',
                                    ['held_by_org_id'], ['id'])
        for name in NEW_TEXT:
            batch_op.drop_column(name)
        batch_op.drop_column('photo_updated_at')
        batch_op.drop_column('photo')
