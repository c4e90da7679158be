"""Every POST route of the hub is fuzzed by a test of tests/fuzz/ or exempt with a reason and the
test that covers it instead (issue 24): a new POST route without either fails here. Each entry
names its test, and the test must exist, so that the list cannot claim a fuzz nobody wrote."""

from __future__ import annotations

import re
from pathlib import Path

from hub import create_app

HERE = Path(__file__).parent
TESTS = HERE.parent

#: endpoint -> the test of tests/fuzz/ whose fuzz posts to it ("module::test").
FUZZED = {
    "admin.new_organisation": "test_admin_forms::test_the_organisation_forms",
    "admin.edit_organisation": "test_admin_forms::test_the_organisation_forms",
    "admin.sso_settings": "test_admin_forms::test_the_sso_settings_form",
    "admin.new_user": "test_admin_forms::test_the_user_forms",
    "admin.edit_user": "test_admin_forms::test_the_user_forms",
    "admin.new_child": "test_admin_forms::test_the_child_and_enrolment_forms",
    "admin.enrolments": "test_admin_forms::test_the_child_and_enrolment_forms",
    "admin.gateways": "test_admin_forms::test_the_local_gateway_form",
    "admin.closures": "test_admin_forms::test_the_closure_and_school_day_start_forms",
    "admin.school_day_start": "test_admin_forms::test_the_closure_and_school_day_start_forms",
    "auth.sign_in": "test_auth_forms::test_the_sign_in_form",
    "auth.second_factor": "test_auth_forms::test_the_second_factor_form",
    "auth.enrol": "test_auth_forms::test_the_authenticator_set_up_form",
    "auth.change_password": "test_auth_forms::test_the_change_password_form",
    "sharing.new": "test_sharing_forms::test_each_page_of_the_share_journey",
    "sharing.new_with_whom": "test_sharing_forms::test_each_page_of_the_share_journey",
    "sharing.new_source": "test_sharing_forms::test_each_page_of_the_share_journey",
    "sharing.new_legal_basis": "test_sharing_forms::test_each_page_of_the_share_journey",
    "sharing.new_consent": "test_sharing_forms::test_each_page_of_the_share_journey",
    "sharing.decision": "test_sharing_forms::test_the_decision_not_to_share_form",
    "sharing.correct": "test_sharing_forms::test_the_correction_onward_and_revoke_forms",
    "sharing.onward": "test_sharing_forms::test_the_correction_onward_and_revoke_forms",
    "sharing.revoke": "test_sharing_forms::test_the_correction_onward_and_revoke_forms",
    "missing.new": "test_missing_and_notification_forms::test_the_report_missing_form",
    "missing.show": "test_missing_and_notification_forms::test_the_episode_progress_form",
    "notifications.show": "test_missing_and_notification_forms::test_the_forms_of_a_school_notification",
    "notifications.seen_at_school": "test_missing_and_notification_forms::test_the_forms_of_a_school_notification",
    "notifications.pass_on_information": "test_missing_and_notification_forms::test_the_forms_of_a_school_notification",
    "notifications.closures": "test_missing_and_notification_forms::test_a_schools_inset_day_form",
    "retention.approve": "test_dpo_forms::test_the_retention_forms",
    "retention.keep": "test_dpo_forms::test_the_retention_forms",
    "retention.period": "test_dpo_forms::test_the_retention_forms",
    "retention.new_hold": "test_dpo_forms::test_the_retention_forms",
    "retention.lift": "test_dpo_forms::test_the_retention_forms",
    "erasure.new": "test_dpo_forms::test_the_erasure_request_and_decision_forms",
    "erasure.decide": "test_dpo_forms::test_the_erasure_request_and_decision_forms",
    "audit.verify": "test_dpo_forms::test_the_audit_integrity_and_flag_forms",
    "audit.close_flags": "test_dpo_forms::test_the_audit_integrity_and_flag_forms",
    "consent.new": "test_consent_profile_mace::test_the_consent_form",
    "missing.profile": "test_consent_profile_mace::test_the_philomena_profile_form",
    "mace_subjects.new_location": "test_consent_profile_mace::test_the_mace_groups_forms",
    "mace_subjects.new_person": "test_consent_profile_mace::test_the_mace_groups_forms",
    "mace_subjects.new_link": "test_consent_profile_mace::test_the_mace_groups_forms",
    "mace_meetings.new_meeting": "test_consent_profile_mace::test_the_mace_groups_forms",
    "mace.add_member": "test_consent_profile_mace::test_the_mace_groups_forms",
    "mace_meetings.notes": "test_consent_profile_mace::test_the_mace_meetings_forms",
    "mace_meetings.add_item": "test_consent_profile_mace::test_the_mace_meetings_forms",
    "mace_actions.new_action": "test_consent_profile_mace::test_the_mace_meetings_forms",
    "mace_meetings.item_minutes": "test_consent_profile_mace::test_the_mace_meetings_forms",
    "mace_meetings.item_risk": "test_consent_profile_mace::test_the_mace_meetings_forms",
    "mace_meetings.item_update": "test_consent_profile_mace::test_the_mace_meetings_forms",
    "mace_subjects.edit_location": "test_consent_profile_mace::test_the_edit_forms_of_a_place_and_a_person",
    "mace_subjects.rejustify_person": "test_consent_profile_mace::test_the_edit_forms_of_a_place_and_a_person",
    "missing_import.mapping": "test_import_forms::test_a_forces_column_headings_form",
    "missing_import.match": "test_import_forms::test_the_forms_of_a_row_waiting_for_review",
    "missing_import.create": "test_import_forms::test_the_forms_of_a_row_waiting_for_review",
    "missing_import.dismiss": "test_import_forms::test_the_forms_of_a_row_waiting_for_review",
    "mace_meetings.attendance": "test_more_mace_and_child_forms::test_the_attendance_proposals_and_outcomes_forms",
    "mace_meetings.proposals": "test_more_mace_and_child_forms::test_the_attendance_proposals_and_outcomes_forms",
    "mace_actions.meeting_outcomes": "test_more_mace_and_child_forms::test_the_attendance_proposals_and_outcomes_forms",
    "mace_actions.record_breach": "test_more_mace_and_child_forms::test_an_actions_status_and_breach_forms",
    "mace_actions.update_action": "test_more_mace_and_child_forms::test_an_actions_status_and_breach_forms",
    "mace.end_membership": "test_more_mace_and_child_forms::test_the_end_membership_and_intelligence_forms",
    "mace_subjects.new_intelligence": "test_more_mace_and_child_forms::test_the_end_membership_and_intelligence_forms",
    "consent.withdraw": "test_more_mace_and_child_forms::test_the_withdraw_consent_and_break_glass_forms",
    "people.break_glass": "test_more_mace_and_child_forms::test_the_withdraw_consent_and_break_glass_forms",
}

_NO_FIELDS = "no field but csrf_token: nothing to fuzz"
_CROSS = (
    "tests/access/test_cross_object_posts.py::"
    "test_a_form_posted_on_an_object_the_poster_may_not_see_is_refused_audited_and_changes_nothing"
)
#: endpoint -> (why it is not fuzzed here, the test that covers it: "path::test").
EXEMPT = {
    "api.create_episode": (
        "the API, fuzzed from its OpenAPI document by schemathesis",
        "tests/api/test_openapi.py::test_the_api_never_fails_and_always_answers_as_documented",
    ),
    "api.token": (
        "the API, fuzzed from its OpenAPI document by schemathesis",
        "tests/api/test_openapi.py::test_the_api_never_fails_and_always_answers_as_documented",
    ),
    "missing_import.index": (
        "its one field is the file, sent good, wrong and hostile workbooks there",
        "tests/missing/test_import.py::test_the_upload_page_refuses_a_missing_or_wrong_file_with_a_clear_message",
    ),
    "auth.sign_out": (_NO_FIELDS, "tests/test_auth.py::test_a_copied_cookie_stops_working_after_sign_out"),
    "auth.account": (
        _NO_FIELDS + " (sign out everywhere)",
        "tests/test_auth.py::test_sign_out_everywhere_ends_every_session",
    ),
    "admin.change_user": (
        _NO_FIELDS,
        "tests/test_password_rules.py::"
        "test_an_administrator_changes_how_someone_signs_in_only_soon_after_signing_in_themselves",
    ),
    "admin.reset_password": (
        _NO_FIELDS + " (the hub generates the password)",
        "tests/test_initial_passwords.py::test_only_an_administrator_resets_a_password_and_the_refusal_is_audited",
    ),
    "admin.end_enrolment": (_NO_FIELDS, _CROSS),
    "admin.change_gateway": (_NO_FIELDS, _CROSS),
    "admin.retry_message": (
        _NO_FIELDS,
        "tests/notifications/test_delivery.py::test_retrying_a_message_that_does_not_exist_is_a_404",
    ),
    "admin.remove_closure": (
        _NO_FIELDS,
        "tests/notifications/test_closures.py::test_the_administrators_page_lists_filters_adds_and_removes",
    ),
    "notifications.remove_closure": (
        _NO_FIELDS,
        "tests/notifications/test_closures.py::test_the_dsls_page_and_the_wrong_roles",
    ),
    "sharing.respond": (_NO_FIELDS + " (accept or decline)", _CROSS),
    "sharing.new_check": (
        _NO_FIELDS + " (the journey's confirmation)",
        "tests/sharing/test_share_journey.py::"
        "test_confirming_with_an_unanswered_page_names_the_page_and_shares_nothing",
    ),
    "sharing.new_abandon": (
        _NO_FIELDS + " (deleting a draft)",
        "tests/sharing/test_share_journey.py::test_another_user_cannot_see_or_delete_someone_elses_draft",
    ),
    "missing.release_profile": (
        _NO_FIELDS,
        "tests/missing/test_episode_pages.py::"
        "test_the_profile_is_kept_by_the_authority_and_released_to_the_police_once",
    ),
    "erasure.answer": (
        _NO_FIELDS,
        "tests/retention/test_erasure.py::test_the_pages_walk_a_request_from_record_to_reply",
    ),
    "mace_meetings.held": (
        _NO_FIELDS,
        "tests/mace/test_mace_posts.py::test_a_meeting_is_recorded_as_held_on_its_page_only_once_someone_was_present",
    ),
    "mace_subjects.remove_person": (
        _NO_FIELDS,
        "tests/mace/test_mace_posts.py::test_a_persons_record_is_removed_from_its_page",
    ),
}


def _unaccounted(app) -> tuple[list[str], list[str]]:
    """The POST endpoints neither fuzzed nor exempt, and the entries for endpoints that are gone."""
    posts = {rule.endpoint for rule in app.url_map.iter_rules() if "POST" in (rule.methods or ())}
    return sorted(posts - FUZZED.keys() - EXEMPT.keys()), sorted((FUZZED.keys() | EXEMPT.keys()) - posts)


def _defined(path: Path, test: str) -> bool:
    return path.exists() and re.search(rf"^def {re.escape(test)}\(", path.read_text(), re.M) is not None


def test_every_post_route_is_fuzzed_or_exempt_with_the_test_that_covers_it():
    assert not FUZZED.keys() & EXEMPT.keys()
    assert _unaccounted(create_app({"env": "testing", "database_url": "sqlite://"})) == ([], [])


def test_a_new_post_route_without_a_fuzz_or_a_reason_is_named():
    app = create_app({"env": "testing", "database_url": "sqlite://"})
    app.add_url_rule("/new-form", "new_form", lambda: "", methods=["GET", "POST"])
    assert _unaccounted(app) == (["new_form"], [])


def test_each_entry_names_a_test_that_exists():
    named = [(HERE / f"{module}.py", test) for module, test in (e.split("::") for e in FUZZED.values())]
    named += [(TESTS.parent / path, test) for path, test in (why[1].split("::") for why in EXEMPT.values())]
    assert [f"{path}::{test}" for path, test in named if not _defined(path, test)] == []
