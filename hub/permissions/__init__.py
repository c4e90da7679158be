"""May this user see (or do) this to this object? The one package every service asks.

Every rule of who may see what lives in this package, one module per kind of object, and nowhere
else (tests/access/test_policy_in_one_place.py fails on a role test outside it). Each kind has one
SQL clause, "what this user may see", that its detail page, lists, searches, exports, counts and
reports all use: a detail page is the list's clause plus the id (`load_or_refuse`), so a list can
never show what the detail page refuses. Every refusal is audited the same way and answers 404.

A user reaches a child only through a legitimate relationship, and the answer names it, because
the audit log records the basis of every access. The relationships, the roles that may use each,
and for every kind of object who sees it and the module that decides, are tables generated from
these rules (hub/permissions/table.py, shown in the README's "Permissions" section):

| module          | what it decides                                                          |
|-----------------|--------------------------------------------------------------------------|
| `roles`         | every role set; what a user may do by role alone (`Capabilities`)        |
| `children`      | the relationships to a child; `child_access`, `visible_child_ids`        |
| `membership`    | MACE membership: named, dated, current                                   |
| `mace`          | MACE content: current named members only; `load_mace_object`             |
| `shares`        | share records, MACE intelligence and its fact, drafts                    |
| `episodes`      | Philomena profiles and photos, police downloads, a force's API           |
| `notifications` | school notifications and replies                                         |
| `loading`       | one rule per kind: `visible_clause` for lists, `load_or_refuse` for one  |
| `dpo`           | the DPO's scope in the audit log; subject access                         |
| `reports`       | whose figures a report counts; the returns                               |
| `retention`     | an agency's schedule, review queue and legal holds: its own DPO          |
| `erasure`       | erasure requests: who records, sees, decides (per agency) and answers    |
| `cache`         | the per-request answers, forgotten when a relationship changes           |
"""

# The package's public names, re-exported so that callers import from `hub.permissions`: each
# import below is used by the modules that import it from here, not here.
# ruff: noqa: F401
from hub.permissions.cache import forget_access
from hub.permissions.children import (
    DENIED,
    RELATIONSHIP_ROLES,
    Access,
    child_access,
    child_bases,
    child_visible,
    organisation_child_ids,
    visible_child_ids,
)
from hub.permissions.dpo import (
    NOT_DPO_SCOPE,
    audit_event_scope,
    audit_flag_scope,
    audit_person_scope,
    hub_dpos,
    may_prepare_subject_access,
    may_read_emergency_reasons,
    may_review_child_audit,
    subject_access_episodes,
    subject_access_profile,
    subject_access_shares,
)
from hub.permissions.episodes import (
    episode_fixable_child_ids,
    load_force_episode,
    load_profile_child,
    may_import,
    may_keep_philomena_profile,
    may_read_philomena_profile,
    may_resolve_download_row,
    philomena_released_to,
    profile_photo_basis,
)
from hub.permissions.erasure import (
    erasure_child_named,
    erasure_request_visible,
    holds_records_about,
    may_decide_for,
    may_handle_erasure,
    may_record_erasure,
    may_record_person_erasure,
)
from hub.permissions.loading import (
    RULES,
    Rule,
    episode_visible,
    load_child_or_refuse,
    load_or_refuse,
    refuse,
    visible_clause,
)
from hub.permissions.mace import (
    MACE_OBJECT_TYPES,
    is_chairing,
    load_mace_object,
    mace_agency_sees,
    mace_agenda_child_access,
    mace_child_access,
    mace_group_holds_child,
    mace_intelligence_access,
    mace_intelligence_recipients_ok,
    mace_object_visible,
    mace_proposable_child_ids,
    may_manage_mace_membership,
    may_record_mace_outcome,
)
from hub.permissions.membership import (
    chaired_group_ids,
    is_mace_chair,
    mace_membership,
    member_group_ids,
    sits_on_a_mace_group,
)
from hub.permissions.notifications import addressed_to, may_read_reply_content, notification_visible
from hub.permissions.reports import (
    ReportScope,
    command_line_report_scope,
    looked_after_return_child_ids,
    may_view_reports,
    quality_may_link_download_row,
    quality_waiting_rows_scope,
    report_chaired_group_ids,
    report_figures_withheld,
    report_linkable_children,
    report_linkable_groups,
    report_openable_episode_ids,
    report_pattern_group_ids,
    report_school_choices,
    report_scope,
    return_child_ids,
)
from hub.permissions.retention import (
    legal_hold_visible,
    may_hold_child,
    retention_record_visible,
    subject_access_retention,
)
from hub.permissions.roles import (
    AGGREGATE_ONLY_ROLES,
    API_ROLE_FOR_KIND,
    AUTHORISER_ROLES,
    CHANGE,
    EDUCATION_CONTACT_ROLES,
    EPISODE_ROLES,
    ESCALATION_ROLES,
    KEY_ADULT_ROLES,
    MACE_CHAIR_ROLES,
    MACE_ROLES,
    POLICE_ROLES,
    PRACTITIONER_ROLES,
    READ,
    SCHOOL_ROLES,
    SHARING_ROLES,
    Capabilities,
    aggregate_only,
    is_analyst,
    is_designated_lead,
    is_dpo,
    is_hub_dpo,
    is_key_adult,
    is_officer_of,
    is_police_officer,
    may_administer,
    may_authorise_sharing,
    may_break_glass,
    may_check_audit_integrity,
    may_export_returns,
    may_import_downloads,
    may_keep_retention,
    may_read_episodes,
    may_record_episodes,
    may_record_school_closure,
    may_review_audit_log,
    may_search_children,
    may_share,
)
from hub.permissions.shares import (
    SHARE_READER_ROLES,
    current_member_groups,
    load_share_draft,
    share_fact_only,
    share_names_child,
    share_register_row,
    share_sent_by,
    share_visible,
)

__all__ = [name for name in dir() if not name.startswith("_")]
