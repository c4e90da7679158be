"""May this user see this school notification, or a school's reply to the police?

| object                           | who                                                                  |
|----------------------------------|----------------------------------------------------------------------|
| a notification                   | the person it is addressed to, and the key adults (DSL, deputy) of the school it went to |
| a school's reply: that it was sent | readers of the episode (police, missing team), and the school's key adults |
| a school's reply: its content    | the school that sent it and the force it went to (it is a share: hub.permissions.shares) |

A notification names the child to the school that has them on roll; it is not a route to the
child's record (that needs a relationship of the school's own: hub.permissions.children).
"""  # noqa: E501 - a table's rows are not wrapped

from __future__ import annotations

from sqlalchemy import true

from hub.models.auth import User
from hub.models.notifications import Notification
from hub.permissions.roles import active, is_key_adult


def notification_visible(user: User | None):
    """The clause "the user may open this notification": addressed to them, or to their school
    while they are one of its key adults."""
    if not active(user):
        return ~true()
    own = Notification.user_id == user.id
    if is_key_adult(user):
        return own | (Notification.organisation_id == user.organisation_id)
    return own


def addressed_to(user: User):
    """The inbox's filter on top of `notification_visible`: the copies addressed to the user."""
    return notification_visible(user) & (Notification.user_id == user.id)


def may_read_reply_content(user: User, reply_organisation_id: int, police_org_id: int) -> bool:
    """A reply's text is the school's share to the force: the school and the force read it."""
    return user.organisation_id in (reply_organisation_id, police_org_id)
