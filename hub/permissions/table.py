"""The policy as tables, for the README: generated from the rules, so they cannot drift apart.

`python -m hub.permissions.table` prints them; tests/permissions/test_policy_table.py fails when
the README's permissions section is not exactly this output. The first table comes from
`RELATIONSHIP_ROLES` itself (which roles may use which relationship); the second names, for each
kind of object, who sees it and the module that decides.
"""

from __future__ import annotations

from hub.models.roles import Role
from hub.permissions.children import RELATIONSHIP_ROLES
from hub.permissions.roles import PRACTITIONER_ROLES, SHARING_ROLES

#: What each relationship between an organisation (or a person) and a child is.
RELATIONSHIPS = {
    "enrolment": "the child is on the school's roll now",
    "la-education": "the child is on the roll of a school of the local authority now",
    "responsible-authority": "their authority is the child's home authority",
    "placing-authority": "their authority placed the child",
    "agency-involvement": "their organisation holds an open record (a CAMHS referral, a case)",
    "mace-agenda": "a MACE group their organisation sits on holds the child",
    "share-sent": "their organisation shared information about the child (never MACE intelligence)",
    "share-received": "their organisation received information about the child and still holds it "
                      "(not a decision not to share, never MACE intelligence)",
    "missing-episode": "their force holds a missing report on the child",
    "episode-authority": "their authority is named on an episode as the home or receiving authority",
}
#: The routes that are not an organisation's: (basis, who, what).
PERSONAL_ROUTES = [
    ("mace-member", "a current named member of a MACE group", "the group holds the child on its agenda"),
    ("break-glass", "anyone with a practitioner or MACE role",
     "their own emergency grant, with the kind of emergency and a typed reason, for one hour, flagged to the DPO"),
    ("role:dpo", "the hub's DPO; an organisation's DPO",
     "every child; the children their organisation holds by any relationship above"),
    ("role:hub-admin", "an administrator", "every child (enrolments), always audited"),
]
#: Each kind of object: who sees it, and the module of hub/permissions that decides.
KINDS = [
    ("a child's record", "the relationships above; never the analyst", "children"),
    ("a share record", "practitioners and DPOs of its sender and (until revoked) recipient organisations; "
                       "a decision not to share only its sender's", "shares"),
    ("MACE intelligence", "current named members of its group (its child named only to a member who may see the "
                          "child anyway); the sender organisation's register keeps only the fact of it (date, group, "
                          "category, legal basis, sender)", "shares"),
    ("a share draft", "its author", "shares"),
    ("a consent record", "anyone who may see the child reads it; those who may share about the child record and "
                         "withdraw it", "loading"),
    ("a missing episode", "police officers and social workers who may see the child; the hub's DPO reads it; "
                          "never a school", "loading"),
    ("a Philomena profile", "its keepers (social workers of the child's authority); the hub's DPO reads it",
     "episodes"),
    ("the profile's photo", "as the profile, and the force it was released to", "episodes"),
    ("a police download and its rows", "officers of its force; administrators", "loading"),
    ("a download row's candidate children", "its force's officers see which of the row's details each candidate's "
                                            "record has; the child's name, date of birth and school only if they may "
                                            "see the child", "children"),
    ("a school notification", "the person addressed, and the key adults of the school it went to",
     "notifications"),
    ("a MACE group, meeting, item, action, outcome, place or person",
     "current named members of the group (administrators manage its membership only); an agency's outcome "
     "text its own representatives", "mace"),
    ("an audit event or flag", "the hub's DPO all; an organisation's DPO its staff's acts and the events about "
                               "children it holds", "dpo"),
    ("a subject access pack", "the hub's DPO any child; an organisation's DPO a child it holds", "dpo"),
    ("the typed reasons of someone's emergency access (kept on the grants, off the log)",
     "the DPOs whose flags name them: the hub's DPO anyone's, an organisation's DPO its staff's", "dpo"),
    ("a report figure", "scoped per role: the analyst the area, an authority its children, a force its episodes, "
                        "a school its own notifications and replies", "reports"),
    ("a record under retention (its review date and decision)", "the DPO of the organisation that owns it "
                                                                 "(never another agency's, nor the administrator)",
     "retention"),
    ("a legal hold", "the DPO of its organisation; a hold on one child for a child the organisation holds",
     "retention"),
    ("an erasure request (what each agency holds about the child, by class and count; the decisions)",
     "the DPO of the organisation that received it (who records it, for a child it holds, and sends the reply), the "
     "DPO of each organisation holding records about the child (who decides for its own records only), the hub's "
     "DPO; the child named only to a DPO who may prepare the child's subject access pack; about a MACE person of "
     "concern: the DPOs of the group's host and member organisations (never another group's), the person never "
     "named", "erasure"),
]


def _roles(roles) -> str:
    if not roles:
        return "(an organisation's DPO only)"
    if set(roles) == SHARING_ROLES:
        return "anyone with a practitioner or MACE role"
    if set(roles) == PRACTITIONER_ROLES:
        return "any practitioner (DSL, deputy, social worker, police officer, health practitioner)"
    return ", ".join(sorted(Role(r).label for r in roles))


def relationship_table() -> str:
    rows = [f"| `{name}` | {_roles(RELATIONSHIP_ROLES[name])} | {meaning} |"
            for name, meaning in RELATIONSHIPS.items()]
    rows += [f"| `{basis}` | {who} | {what} |" for basis, who, what in PERSONAL_ROUTES]
    return "\n".join(["| basis | who may use it | relationship |", "|---|---|---|", *rows])


def kinds_table() -> str:
    rows = [f"| {kind} | {who} | `hub/permissions/{module}.py` |" for kind, who, module in KINDS]
    return "\n".join(["| kind of object | who sees it | decided in |", "|---|---|---|", *rows])


if __name__ == "__main__":
    print(relationship_table())
    print()
    print(kinds_table())
