"""May this user see this share record (or this draft of one)?

| who                                              | what of a share they see                                  |
|--------------------------------------------------|-----------------------------------------------------------|
| practitioners and DPOs of the sender organisation | the whole share (a decision not to share: only they)      |
| practitioners and DPOs of a recipient organisation| the whole share, until their organisation is revoked      |
| current named members of a MACE group            | intelligence shared into the group                        |
| the sender organisation of MACE intelligence     | only the fact of it in the register: date, group, category, legal basis, sender; never the child, summary, content, purpose or source |
| the author of a draft                            | the draft, and no one else                                |
| a reader of MACE intelligence about one child    | the child's name only if they may see the child anyway    |

MACE intelligence is never seen by an organisation as such: a colleague of the sender who is not a
current member of the group, or a member whose membership ended, sees only the fact of it (if
their organisation sent it) or nothing. An administrator or the analyst sees no share. Every list
of shares (the register, its spreadsheet, "shared with and by us", a child's chronology, the
intelligence of a group) filters with `share_visible` or `share_register_row`, and a share's page
is the same clause with its id.
"""  # noqa: E501 - a table's rows are not wrapped

from __future__ import annotations

from sqlalchemy import or_, select, true

from hub import db
from hub.audit import service as audit
from hub.errors import NotFound
from hub.models.auth import User
from hub.models.sharing import ShareAccess, ShareDraftRecord, ShareRecord
from hub.permissions.membership import member_group_ids
from hub.permissions.roles import DPO_ROLES, SHARING_ROLES, holds

#: Who in an organisation reads the shares it holds: its practitioners, and its DPO (the
#: register is the organisation's record of processing).
SHARE_READER_ROLES = SHARING_ROLES | DPO_ROLES


def _organisation_holds(user: User, share) -> object:
    # Correlated, so each candidate share is one primary-key probe (not a scan of every share the
    # organisation may see, which an IN over a subquery becomes).
    # correlate_except: a register walks share_access itself, and its own row must not stand in
    # for this probe (the probe names the share's organisation, whatever the outer query joins).
    return (select(ShareAccess.share_id).where(ShareAccess.share_id == share.id,
                                               ShareAccess.organisation_id == user.organisation_id)
            .correlate_except(ShareAccess).exists())


def share_visible(user: User | None, share=ShareRecord):
    """The clause "the user may see this share record, content and all": a share their
    organisation sent, or received and was not revoked from (share_access); MACE intelligence to
    the group's current named members, whoever they work for and whenever they were named (the
    group's content is reached through membership alone). `share`: ShareRecord or an alias of it
    (a page asking about a second share beside each row, e.g. its correction)."""
    if not holds(user, SHARE_READER_ROLES):
        return ~true()
    return or_(share.mace_group_id.is_(None) & _organisation_holds(user, share),
               share.mace_group_id.in_(member_group_ids(user)))


def share_register_row(user: User | None, share=ShareRecord):
    """The clause "the share is a row of the user's register": everything `share_visible`, and
    the MACE intelligence their organisation sent into a group they are not a current member of,
    shown only as a fact (`share_fact_only` says which rows)."""
    if not holds(user, SHARE_READER_ROLES):
        return ~true()
    return _organisation_holds(user, share) & or_(share.mace_group_id.is_(None),
                                                  share.sender_org_id == user.organisation_id,
                                                  share.mace_group_id.in_(member_group_ids(user)))


def share_fact_only(user: User, share: ShareRecord, member_groups: set[int]) -> bool:
    """Whether a register row shows only the fact of the share: MACE intelligence of a group
    the user is not a current member of (`member_groups`: `member_group_ids` read once a page)."""
    return share.mace_group_id is not None and share.mace_group_id not in member_groups


def share_names_child(share: ShareRecord, may_see_child: bool) -> bool:
    """Whether a share's pages and lists name its child to a reader of the share (`may_see_child`:
    the reader's own relationship to the child, `child_bases`). A share an organisation sent or
    received names its child: the share is the relationship. MACE intelligence names its child only
    to a member who may see the child anyway, as the group's intelligence pages do: intelligence is
    never a route to a child, not even to the child's name."""
    return share.mace_group_id is None or may_see_child


def current_member_groups(user: User) -> set[int]:
    return set(db.session().scalars(member_group_ids(user)))


def share_sent_by(user: User | None, share=ShareRecord):
    """The clause "the user may act for the share's sender" (correct it, revoke a recipient): a
    share they may see that their organisation sent."""
    return share_visible(user, share) & (share.sender_org_id == (user.organisation_id if user else None))


# --- Share drafts: a half-written share is its author's alone --------------------------------

def load_share_draft(user: User | None, draft_id, child_id: int) -> ShareDraftRecord:
    """The user's own draft share about the child, or (no such draft, another user's, or about
    another child) the refusal audited in its own transaction and a 404, the same for all of these:
    a draft holds what its author has not yet decided to share, so no one else opens it, not even
    a DPO or an administrator."""
    draft = db.session().get(ShareDraftRecord, draft_id) if isinstance(draft_id, str) and draft_id else None
    if draft is None or user is None or not user.is_active or draft.user_id != user.id or draft.child_id != child_id:
        audit.record_refusal(user, "share-draft", None, child_id)
        raise NotFound("draft not found")
    return draft
