"""The audit log's pages: the DPO's search, "who has seen this child", "what has this user
done", exports, flags and the integrity panel; and, for anyone, the public key and checkpoint.
Thin: every read and change goes through hub.dpo (search, integrity, exports, flags), which checks
the role and audits it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date

from flask import Blueprint, Response, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from hub.audit import alarms, export, service, signing
from hub.audit import tree_heads as audit_tree_heads
from hub.auth import organisations as auth_organisations
from hub.dpo import exports as dpo_exports
from hub.dpo import flags as dpo_flags
from hub.dpo import integrity as dpo_integrity
from hub.dpo import search as dpo_search
from hub.dpo.forms import AuditSearchForm, CloseFlagsForm, VerifyForm
from hub.errors import Invalid
from hub.permissions import may_check_audit_integrity, may_review_audit_log
from hub.retention import shredding
from hub.web import actor, apply_errors, personal_data, public, requires

bp = Blueprint("audit", __name__, url_prefix="/audit")

#: The only audit pages a hub administrator who is not a DPO reaches.
ADMIN_ENDPOINTS = {"audit.integrity", "audit.verify"}


@bp.before_request
def _dpo_pages_only():
    """Blueprint-wide guard, so a new audit page is closed by default: only DPOs (and, for the
    integrity panel, hub administrators) get past it. The services check the role again."""
    if getattr(current_app.view_functions.get(request.endpoint), "hub_public", False):
        return
    if not current_user.is_authenticated:
        abort(403)  # not reached: the app's sign-in check runs first and sends them to sign in
    may = may_check_audit_integrity if request.endpoint in ADMIN_ENDPOINTS else may_review_audit_log
    if not may(actor()):
        service.record_refusal(actor(), "page", request.endpoint)
        abort(403)


@bp.route("/public-key")
@public
def public_key():
    """The Ed25519 key that signs tree heads: anyone may fetch it to check an export."""
    return Response(export.public_key_pem(), mimetype="application/x-pem-file")


@bp.route("/checkpoint")
@public
def checkpoint():
    """The latest signed tree head as a C2SP tlog-checkpoint signed note with the witnesses'
    cosignatures: what a DPO saves for a later `verify --against`."""
    head = audit_tree_heads.latest_tree_head()
    if head is None:
        try:
            head = signing.sign_and_publish()
        except audit_tree_heads.SigningRefused:
            return Response("The audit log does not verify: no checkpoint can be signed.\n", status=503,
                            mimetype="text/plain")
    return Response(audit_tree_heads.checkpoint_note(signing.origin(), head), mimetype="text/plain")


@dataclass
class Matches:
    """Several children or people match what the DPO typed: they choose one."""

    children: list = field(default_factory=list)
    people: list = field(default_factory=list)


def _search_form() -> tuple[AuditSearchForm, dpo_search.EventFilter, Matches]:
    form = AuditSearchForm(request.args)
    form.organisation_id.choices = [(0, "Any")] + [(o.id, o.name) for o in auth_organisations.organisations()]
    filters, matches = dpo_search.EventFilter(), Matches()
    if request.args and form.validate():
        # What the DPO typed wins over an id carried by a link.
        child_id = _one(form.child, dpo_search.find_children, matches.children, "child") if form.child.data \
            else form.child_id.data
        user_id = _one(form.person, dpo_search.find_people, matches.people, "person") if form.person.data \
            else form.user_id.data
        filters = dpo_search.EventFilter(
            child_id=child_id, user_id=user_id, organisation_id=form.organisation_id.data or None,
            action=form.action.data or None, outcome=form.outcome.data or None,
            date_from=form.date_from.data, date_to=form.date_to.data)
    return form, filters, matches


def _one(field_, find, choices: list, what: str) -> int | None:
    """The one child or person a search field finds; else a field error (none, or several to
    choose from: `choices` gets them), so no search runs on a guess."""
    if not (field_.data or "").strip():
        return None
    found = find(actor(), field_.data)
    if len(found) == 1:
        return found[0].id
    if not found:
        field_.errors.append(f"No {what} you may review matches '{field_.data.strip()}'")
    else:
        choices.extend(found[:dpo_search.MATCHES_SHOWN])
        many = f"More than {dpo_search.MATCHES_SHOWN}" if len(found) > dpo_search.MATCHES_SHOWN else str(len(found))
        field_.errors.append(f"{many} match '{field_.data.strip()}': choose one from the list, or type more")
    return None


def _results(form, filters: dpo_search.EventFilter, title: str, purpose: str, endpoint: str = "audit.search",
             matches: Matches | None = None, **path):
    """The events page; `endpoint` and `path` (child_id or user_id) say which page it is, for the
    "Older events" link. The download links carry the same filters as the page shows."""
    page = None
    if not form.errors:  # bad input: show what is wrong, not the whole unfiltered log
        try:
            page = dpo_search.search(actor(), filters, before=request.args.get("before", type=int), purpose=purpose)
        except Invalid as exc:
            apply_errors(form, exc)
    args = {k: v for k, v in request.args.to_dict(flat=False).items()
            if k not in ("before", "child", "person") and k not in path}
    # The download and paging links carry the one child or person found, by id.
    args |= {k: v for k, v in (("child_id", filters.child_id), ("user_id", filters.user_id))
             if v is not None and k not in path}
    older_url = None
    if page and page.next_before:
        older_url = url_for(endpoint, **path, **args, before=page.next_before)
    return render_template("audit/search.html", form=form, page=page, title=title, query=path or args,
                           detail=dpo_search.detail, older_url=older_url, matches=matches or Matches())


@bp.route("")
@requires(may_review_audit_log)
@personal_data
def search():
    form, filters, matches = _search_form()
    return _results(form, filters, "Audit log", "audit review", matches=matches)


@bp.route("/children/<int:child_id>")
@requires(may_review_audit_log)
@personal_data
def child(child_id: int):
    form, _, _ = _search_form()
    form.child_id.data = child_id  # the filter form narrows this child's events further
    name = dpo_search.child_name(actor(), child_id)
    if name and shredding.is_destroyed_label(name):
        title = f"Events {name}"
    else:
        title = f"Who has seen {name}'s record" if name else "Who has seen this child's record"
    return _results(form, dpo_search.EventFilter(child_id=child_id), title,
                    "who has seen this record", "audit.child", child_id=child_id)


@bp.route("/users/<int:user_id>")
@requires(may_review_audit_log)
@personal_data
def user(user_id: int):
    form, _, _ = _search_form()
    form.user_id.data = user_id
    who = dpo_search.person(actor(), user_id)
    return _results(form, dpo_search.EventFilter(user_id=user_id), f"What {who.name} has done" if who else
                    "What this person has done", "user activity", "audit.user", user_id=user_id)


DOWNLOADS = {
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
             lambda filters: dpo_exports.export_xlsx(actor(), filters)),
    "json": ("application/json",
             lambda filters: json.dumps(dpo_exports.export_json(actor(), **filters.__dict__), indent=1)),
}


@bp.route("/export.<any(xlsx, json):kind>")
@requires(may_review_audit_log)
@personal_data
def download(kind: str):
    """The filtered log as a spreadsheet or as signed JSON; each download is audited as an export."""
    form, filters, _ = _search_form()
    try:
        filters.validate()
        bad = bool(form.errors)
    except Invalid:
        bad = True
    if bad:
        return _results(form, filters, "Audit log", "audit review")  # the page, showing what is wrong
    mimetype, make = DOWNLOADS[kind]
    filename = f"audit-log-{date.today().isoformat()}.{kind}"
    try:
        content = make(filters)
    except Invalid as exc:  # the log cannot be signed: say why on the page, never a half export
        apply_errors(form, exc)
        flash(next(iter(exc.errors.values())), "error")
        return redirect(url_for("audit.integrity"))
    return Response(content, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.route("/integrity")
@requires(may_check_audit_integrity)
def integrity():
    status = dpo_integrity.integrity(actor())
    return render_template("audit/integrity.html", status=status, form=VerifyForm(),
                           progress_text=dpo_integrity.progress_text(status.running) if status.running else "",
                           alarm_seconds=int(service.PENDING_ALARM.total_seconds()), alarm_kinds=alarms.KINDS)


@bp.route("/integrity/verify", methods=["POST"])
@requires(may_check_audit_integrity)
def verify():
    form = VerifyForm()
    if form.validate_on_submit():
        dpo_integrity.verify_now(actor(), form.kind.data)
        flash("The check has started. This page shows its progress; you can leave it and come back.", "success")
    return redirect(url_for("audit.integrity"))


@bp.route("/integrity/verifications/<int:verification_id>/progress")
@requires(may_check_audit_integrity)
def verification_progress(verification_id: int):
    """The integrity page's live progress (hub/static/import-progress.js polls it): numbers only."""
    row = dpo_integrity.get_verification(actor(), verification_id)
    return jsonify(status=row.status, checked=row.checked, total=row.total, text=dpo_integrity.progress_text(row),
                   finished=row.status == dpo_integrity.DONE)


@bp.route("/flags")
@requires(may_review_audit_log)
@personal_data
def flags():
    status = "closed" if request.args.get("status") == "closed" else "open"
    page = dpo_flags.flag_queue(actor(), status, before=request.args.get("before", type=int))
    older_url = url_for("audit.flags", status=status, before=page.next_before) if page.next_before else None
    return render_template("audit/flags.html", page=page, status=status, older_url=older_url,
                           close_form=CloseFlagsForm())


@bp.route("/flags/close", methods=["POST"])
@requires(may_review_audit_log)
def close_flags():
    """Close the flags ticked on the page, with one note."""
    form = CloseFlagsForm()
    try:
        if not form.validate_on_submit():
            if form.flag_id.errors:  # a number that names no flag the page offered
                raise Invalid({"flag_id": "Select the flags to close from the list"})
            raise Invalid({"note": (form.note.errors or ["Write what you found"])[0]})
        closed = dpo_flags.close_flags(actor(), form.flag_id.data, form.note.data)
        flash(f"{len(closed)} flag{'s' if len(closed) != 1 else ''} closed.", "success")
    except Invalid as exc:
        flash(next(iter(exc.errors.values())), "error")
    return redirect(url_for("audit.flags"))
