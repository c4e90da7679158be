"""MACE membership: named, dated, current. The one way into a group's content, and one of the
relationships to a child (a group that holds the child on its agenda)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Select, exists, select

from hub import db
from hub.models.auth import User
from hub.models.mace import MaceMember
from hub.permissions.cache import cache_for_reading
from hub.permissions.roles import MACE_CHAIR_ROLES, active


def current_on(day: date, member=MaceMember):
    """The clause "this membership is current on `day`" (started, not yet ended)."""
    return (member.start_date <= day) & (member.end_date.is_(None) | (member.end_date > day))


def member_group_ids(user: User, day: date | None = None, member=MaceMember) -> Select:
    """The groups the user is a current named member of, as a SELECT of ids. `member`: MaceMember
    or an alias of it (a query probed from inside another)."""
    return select(member.group_id).where(member.user_id == user.id, current_on(day or date.today(), member))


def chaired_group_ids(user: User) -> Select:
    """The groups the user chairs or co-chairs today."""
    return member_group_ids(user).where(MaceMember.role.in_(MACE_CHAIR_ROLES))


def sits_on_a_mace_group(user: User) -> bool:
    """Whether the user is a current named member of any group today. The menu and the home
    page's counts both ask on every page, so the answer is kept for the request (the access
    cache, emptied like it when a membership changes)."""
    if not active(user):
        return False
    cache = cache_for_reading()
    key = ("mace-member", user.id)
    if cache is not None and key in cache:
        return cache[key]
    answer = bool(db.session().scalar(select(exists(member_group_ids(user)))))
    if cache is not None:
        cache[key] = answer
    return answer


def mace_membership(user: User | None, group_id: int | None, day: date | None = None) -> MaceMember | None:
    """The user's current membership of the group (the chair's included), or None."""
    if not active(user) or group_id is None:
        return None
    return db.session().scalar(select(MaceMember).where(
        MaceMember.user_id == user.id, MaceMember.group_id == group_id, current_on(day or date.today()))
        .order_by(MaceMember.id).limit(1))


def is_mace_chair(user: User | None, group_id: int) -> bool:
    member = mace_membership(user, group_id)
    return member is not None and member.role in MACE_CHAIR_ROLES
