"""Sharing about a child, one question per page: what, with whom, legal basis, consent, source,
then "Check your answers". Nothing is a share until the user confirms on the check page; until then
the answers are a draft (hub.sharing.drafts) whose id travels in the address (?draft=...), so a
reload, the back button or a Change link finds them again.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from hub.auth.forms import ConfirmForm
from hub.errors import Invalid
from hub.people import service as people
from hub.sharing import drafts, legal_bases, service, steps
from hub.sharing.forms import ShareForm, fill_choices, share_draft
from hub.web import actor, apply_errors, personal_data

#: Only so that a page can build a share from answers not given yet; never stored.
_UNANSWERED = {"category": ["other"], "obtained_how": ["other"]}


def endpoint(step: steps.Step) -> str:
    return "sharing.new" if step.slug == "what" else f"sharing.new_{step.slug.replace('-', '_')}"


def _url(step: steps.Step | None, child_id: int, draft_id: str | None, **args) -> str:
    name = endpoint(step) if step else "sharing.new_check"
    return url_for(name, child_id=child_id, draft=draft_id, **args)


def _formdata(answers: dict[str, list[str]]) -> MultiDict:
    return MultiDict([(name, value) for name, values in answers.items() for value in values])


def whole_form(child_id: int, answers: dict[str, list[str]]) -> ShareForm:
    """The single-page share form, filled in with every page's answers and validated."""
    form = ShareForm(formdata=_formdata(answers), meta={"csrf": False})
    fill_choices(form, actor(), child_id)
    form.validate()
    return form


def _page_errors(child_id: int, answers: dict[str, list[str]], step: steps.Step) -> dict[str, str]:
    """The register's rules (service.rule_errors) that this page's answers break, judged with
    every answer given so far: the same rules the confirmation applies, one page at a time."""
    form = whole_form(child_id, _UNANSWERED | answers)
    try:
        share = share_draft(form, child_id)
    except ValueError:  # an earlier page not answered yet: the check page will say so
        return {}
    return {name: message for name, message in service.rule_errors(actor(), share).items()
            if name in step.fields}


def question(child_id: int, slug: str):
    child = people.get_child(actor(), child_id, purpose="share information")
    step = steps.BY_SLUG[slug]
    draft_id = request.args.get("draft") or None
    draft = drafts.open_draft(actor(), child_id, draft_id)
    saved = drafts.answers(draft)
    form_class = steps.FORMS[slug]
    if request.method == "POST":
        form = form_class()
    else:
        mine = {name: values for name, values in saved.items() if name in step.fields}
        form = form_class(formdata=_formdata(mine) if mine else None)
    fill_choices(form, actor(), child_id)
    if form.validate_on_submit():
        page = steps.sent_answers(step, request.form)
        errors = _page_errors(child_id, saved | page, step)
        if not errors:
            draft_id = drafts.save(actor(), child_id, draft, page)
            after = None if request.args.get("change") else steps.next_step(step)
            return redirect(_url(after, child_id, draft_id))
        apply_errors(form, Invalid(errors))
    index = steps.STEPS.index(step)
    back = _url(steps.STEPS[index - 1], child_id, draft_id) if index else url_for("people.show", child_id=child_id)
    if request.args.get("change"):
        back = _url(None, child_id, draft_id)
    return render_template(f"sharing/steps/{step.slug}.html", form=form, child=child, step=step, back=back,
                           number=index + 1, total=len(steps.STEPS), bases=legal_bases, draft_id=draft_id)


def _rows(form: ShareForm, step: steps.Step) -> list[tuple[str, str, str]]:
    """The check page's rows for a page: (question, answer, field name), the answered ones."""
    rows = []
    for name in step.fields:
        field = form[name]
        shown = _shown(field)
        if shown:
            rows.append((str(field.label.text), shown, name))
    return rows


def _shown(field) -> str:
    data = field.data
    if field.type == "BooleanField":
        return "Yes" if data else ""
    if field.type == "DateInputField":
        return f"{data:%-d %B %Y}" if data else ""
    if field.type in ("SelectField", "RadioField", "SelectMultipleField"):
        chosen = data if isinstance(data, list) else [data]
        return ", ".join(str(label) for value, label in field.choices or []
                         if value in chosen and value not in ("", 0))
    return (data or "").strip() if isinstance(data, str) else ""


def _by_step(errors: dict[str, str]) -> list[dict]:
    """The error summary of the check page: each error links to the page that asks it."""
    return [{"text": message, "step": steps.STEP_OF_FIELD.get(name)} for name, message in errors.items()]


def check(child_id: int):
    child = people.get_child(actor(), child_id, purpose="share information")
    draft_id = request.args.get("draft") or None
    draft = drafts.open_draft(actor(), child_id, draft_id)
    saved = drafts.answers(draft)
    confirm = ConfirmForm()
    errors: dict[str, str] = {}
    answered = {steps.STEP_OF_FIELD[name].slug for name in saved if name in steps.STEP_OF_FIELD}
    form = whole_form(child_id, saved)
    if confirm.validate_on_submit():
        missing = [step for step in steps.STEPS if step.slug not in answered]
        errors = {step.fields[0]: f"Answer '{step.question}'" for step in missing}
        errors |= {name: field_errors[0] for name, field_errors in form.errors.items()}
        if draft is not None and not errors:
            try:
                share = drafts.confirm(actor(), draft, share_draft(form, child_id))
                flash("Shared. The recipients see it in their 'shared with us' list.", "success")
                return redirect(url_for("sharing.show", share_id=share.id))
            except Invalid as exc:
                errors = exc.errors
    sections = [(step, _rows(form, step) if step.slug in answered else [], _url(step, child_id, draft_id, change=1))
                for step in steps.STEPS]
    return render_template("sharing/check.html", child=child, sections=sections, confirm=confirm,
                           errors=_by_step(errors), draft_id=draft_id,
                           back=_url(steps.STEPS[-1], child_id, draft_id),
                           step_url=lambda step: _url(step, child_id, draft_id, change=1))


def abandon(child_id: int):
    """"Delete this draft": a page saying what would be deleted, and only its confirmation (a POST
    with the form's token) deletes it. Never one click from a question page."""
    child = people.get_child(actor(), child_id, purpose="share information")
    draft_id = request.args.get("draft") or ""
    draft = drafts.open_draft(actor(), child_id, draft_id)
    confirm = ConfirmForm()
    if request.method == "POST":
        if not confirm.validate_on_submit():
            abort(400)
        drafts.abandon(actor(), draft)
        flash("The draft was deleted. Nothing was shared.", "success")
        return redirect(url_for("people.show", child_id=child_id))
    saved = drafts.answers(draft)
    answered = [step for step in steps.STEPS if any(name in saved for name in step.fields)]
    return render_template("sharing/abandon.html", child=child, draft=draft, answered=answered, confirm=confirm,
                           back=_url(None, child_id, draft_id))


def register(bp) -> None:
    """The journey's pages on the register's blueprint: /sharing/new/<child_id> starts it."""
    for step in steps.STEPS:
        path = "/new/<int:child_id>" + ("" if step.slug == "what" else f"/{step.slug}")
        bp.add_url_rule(path, endpoint(step).split(".")[1], personal_data(_step_view(step.slug)),
                        methods=["GET", "POST"])
    bp.add_url_rule("/new/<int:child_id>/check", "new_check", personal_data(check), methods=["GET", "POST"])
    bp.add_url_rule("/new/<int:child_id>/abandon", "new_abandon", personal_data(abandon), methods=["GET", "POST"])


def _step_view(slug: str):
    def view(child_id: int):
        return question(child_id, slug)

    view.__name__ = f"share_{slug.replace('-', '_')}"
    return view
