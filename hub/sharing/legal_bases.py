"""The maintained lists of legal bases for sharing, and the rules that tie them together.

A share records, each from its own list: the UK GDPR Article 6 basis; for special-category or
criminal-offence information, the Article 9 or Article 10 condition with its DPA 2018 Schedule 1
paragraph; for police law-enforcement processing, DPA 2018 Part 3 section 35 with its Schedule 8
condition (instead of Articles 6, 9 and 10); and the statutory gateway. Administrators add local
entries to the gateway list; the UK GDPR and DPA lists are fixed in law, so they live here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from hub.models.roles import OrgKind


@dataclass(frozen=True)
class LegalBasis:
    code: str
    label: str
    #: A short plain-English explanation for the practitioner choosing it.
    explanation: str


ARTICLE_6 = [
    LegalBasis("6(1)(e)", "Public task",
               "Sharing is needed to carry out your organisation's official functions set out in law. The usual "
               "basis for councils, schools, the NHS and the police."),
    LegalBasis("6(1)(c)", "Legal obligation", "The law requires you to share this, for example a statutory duty."),
    LegalBasis("6(1)(d)", "Vital interests", "Sharing is needed to protect someone's life, such as in an emergency."),
    LegalBasis("6(1)(ea)", "Recognised legitimate interest: safeguarding",
               "Sharing is needed to safeguard a child or an adult at risk (a recognised legitimate interest, so no "
               "balancing test is needed)."),
    LegalBasis("6(1)(f)", "Legitimate interests",
               "Only for organisations that are not public bodies, such as voluntary groups: your interest in sharing "
               "must outweigh the person's interests, and you must record that balance."),
    LegalBasis("6(1)(a)", "Consent",
               "Rarely right for safeguarding: consent must be freely given and can be withdrawn at any time, which "
               "would stop the sharing."),
]

ARTICLE_9 = [
    LegalBasis("9(2)(g)+S1P18", "Substantial public interest: safeguarding of children and individuals at risk "
               "(DPA 2018 Schedule 1 paragraph 18)",
               "Health or other special-category information shared to protect a child or an adult at risk."),
    LegalBasis("9(2)(g)+S1P6", "Substantial public interest: statutory purposes (Schedule 1 paragraph 6)",
               "Needed to carry out a function given by law."),
    LegalBasis("9(2)(g)+S1P10", "Substantial public interest: preventing or detecting unlawful acts "
               "(Schedule 1 paragraph 10)", "Needed to prevent or detect a crime."),
    LegalBasis("9(2)(h)+S1P2", "Health or social care (Schedule 1 paragraph 2)",
               "Needed for health or social care, by or under the responsibility of a professional with a duty of "
               "confidentiality."),
    LegalBasis("9(2)(b)+S1P1", "Employment, social security and social protection (Schedule 1 paragraph 1)",
               "Needed for your organisation's social protection duties."),
    LegalBasis("9(2)(c)", "Vital interests of someone who cannot consent",
               "Needed to protect the life of a person who cannot give consent."),
]

ARTICLE_10 = [
    LegalBasis("10+S1P18", "Criminal offence data: safeguarding of children and individuals at risk "
               "(DPA 2018 section 10(5), Schedule 1 paragraphs 18 and 36)",
               "Information about offences or alleged offences, shared to protect a child or an adult at risk."),
    LegalBasis("10+S1P10", "Criminal offence data: preventing or detecting unlawful acts "
               "(Schedule 1 paragraphs 10 and 36)", "Needed to prevent or detect a crime."),
    LegalBasis("10+S1P6", "Criminal offence data: statutory purposes (Schedule 1 paragraphs 6 and 36)",
               "Needed to carry out a function given by law."),
]

PART_3 = [
    LegalBasis("S35+S8P4", "DPA 2018 Part 3, section 35(5): safeguarding of children and individuals at risk "
               "(Schedule 8 paragraph 4)", "Police processing for a law-enforcement purpose, to protect a child."),
    LegalBasis("S35+S8P1", "Section 35(5): statutory purposes (Schedule 8 paragraph 1)",
               "Police processing needed for a function given by law."),
    LegalBasis("S35+S8P3", "Section 35(5): protecting an individual's vital interests (Schedule 8 paragraph 3)",
               "Police processing needed to protect someone's life."),
    LegalBasis("S35+S8P2", "Section 35(5): administration of justice (Schedule 8 paragraph 2)",
               "Police processing needed for the administration of justice."),
]

GATEWAYS = [
    LegalBasis("CA1989-s17", "Children Act 1989 section 17", "Services for children in need."),
    LegalBasis("CA1989-s47", "Children Act 1989 section 47",
               "Enquiries where a child is suffering, or likely to suffer, significant harm."),
    LegalBasis("CA2004-s10", "Children Act 2004 section 10", "Co-operation to improve children's well-being."),
    LegalBasis("CA2004-s11", "Children Act 2004 section 11", "Arrangements to safeguard and promote welfare."),
    LegalBasis("CA2004-s16E-H", "Children Act 2004 sections 16E to 16H",
               "Local safeguarding arrangements; safeguarding partners may require information (s16H)."),
    LegalBasis("CA2004-s16LA", "Children Act 2004 section 16LA (duty to share information)",
               "Safeguarding partners, the bodies under section 11 and designated childcare and education agencies "
               "must share information relevant to a child's safeguarding or welfare where it may help another of "
               "them, unless sharing would be more detrimental to the child than not sharing (inserted by the "
               "Children's Wellbeing and Schools Act 2026)."),
    LegalBasis("CDA1998-s115", "Crime and Disorder Act 1998 section 115",
               "Disclosure to a relevant authority for the purposes of the Act (crime reduction)."),
    LegalBasis("DAA2021-s49A", "Domestic Abuse Act 2021 section 49A", "Domestic abuse information sharing."),
    LegalBasis("EA2002-s175", "Education Act 2002 section 175",
               "Schools' and local authorities' duty to safeguard and promote pupils' welfare."),
]



@dataclass(frozen=True)
class Commencement:
    """When the provision a gateway names came into force: a share may name it only from then."""

    enacted: date
    #: The day it came into force; None while it is enacted but no regulations have appointed one.
    in_force_from: date | None
    #: Where the dates come from, to check them again.
    source: str


#: The gateways that came into force after the hub began (every other one was in force before any
#: share the hub holds). When regulations appoint a day, set `in_force_from` here.
COMMENCEMENT: dict[str, Commencement] = {
    # Checked on legislation.gov.uk, December 2026: the Act received Royal Assent on 29 April 2026;
    # section 4 (inserting ss.16LA to 16LC) is not among the provisions s.78(1) and (2) bring into
    # force, so it comes into force on a day appointed by regulations (s.78(5)), save that its
    # regulation-making powers came into force on Royal Assent (s.78(1)(a)). No regulations
    # appointing a day for s.16LA had been made.
    "CA2004-s16LA": Commencement(
        enacted=date(2026, 4, 29), in_force_from=None,
        source="Children's Wellbeing and Schools Act 2026 (c. 21), s.4 and s.78(5)"),
}


def in_force(code: str | None, on: date, commencement: Mapping[str, Commencement] = COMMENCEMENT) -> bool:
    """Whether a gateway may be named by a share made on this day (London date)."""
    known = commencement.get(code or "")
    return known is None or (known.in_force_from is not None and known.in_force_from <= on)


def commencement_note(code: str, commencement: Mapping[str, Commencement] = COMMENCEMENT) -> str:
    """What the form says of a gateway that is, or was, waiting for its commencement."""
    known = commencement.get(code)
    if known is None:
        return ""
    if known.in_force_from is None:
        return f"Enacted {known.enacted:%-d %B %Y}; not yet in force (no commencement regulations yet)"
    return f"In force from {known.in_force_from:%-d %B %Y}"


def offered(gateways: Iterable[LegalBasis], on: date,
            commencement: Mapping[str, Commencement] = COMMENCEMENT) -> list[LegalBasis]:
    """The gateways a share made on this day may name: those in force then."""
    return [g for g in gateways if in_force(g.code, on, commencement)]


LISTS = {"article_6": ARTICLE_6, "article_9": ARTICLE_9, "article_10": ARTICLE_10, "part_3": PART_3,
         "gateway": GATEWAYS}
BY_CODE = {name: {b.code: b for b in entries} for name, entries in LISTS.items()}
#: What stands before a code when it is shown beside its label: the law each list comes from.
CODE_PREFIX = {"article_6": "UK GDPR ", "article_9": "UK GDPR ", "article_10": "UK GDPR ", "part_3": "DPA 2018 ",
               "gateway": ""}
PUBLIC_BODIES = {OrgKind.police, OrgKind.childrens_social_care, OrgKind.school, OrgKind.health,
                 OrgKind.la_education, OrgKind.mace_host}


def describe(code: str | None, local_gateways: Iterable[LegalBasis] = ()) -> str:
    """A code in plain English, label first with the code beside it: "Public task (UK GDPR 6(1)(e))".
    The one place every page, list and spreadsheet turns a code into words. `local_gateways`: the
    locality's own gateways (hub.sharing.gateways.gateways()); a code in no list is shown as it is."""
    if not code:
        return ""
    for name, entries in BY_CODE.items():
        if code in entries:
            return f"{entries[code].label} ({CODE_PREFIX[name]}{code})"
    local = next((g for g in local_gateways if g.code == code), None)
    return f"{local.label} ({code})" if local else code


@dataclass
class BasisChoice:
    article_6: str | None = None
    article_9: str | None = None
    article_10: str | None = None
    part_3: str | None = None
    gateway: str | None = None


def check(choice: BasisChoice, *, sender_kind: OrgKind, special_category: bool, criminal_offence: bool,
          law_enforcement: bool, local_gateways: set[str] = frozenset(), on: date | None = None,
          commencement: Mapping[str, Commencement] = COMMENCEMENT) -> dict[str, str]:
    """Field errors for a choice of legal bases (empty when it is lawful to record). `on`: the
    (London) day the share is made, when the gateway must be in force."""
    errors: dict[str, str] = {}
    if choice.gateway and on is not None and not in_force(choice.gateway, on, commencement):
        errors["gateway"] = (f"{BY_CODE['gateway'][choice.gateway].label} is not in force on {on:%-d %B %Y}: "
                             "choose a gateway that is")
    for name in ("article_6", "article_9", "article_10", "part_3"):
        code = getattr(choice, name)
        if code and code not in BY_CODE[name]:
            errors[name] = "Choose an entry from the list"
    if choice.gateway and choice.gateway not in BY_CODE["gateway"] and choice.gateway not in local_gateways:
        errors["gateway"] = "Choose a statutory gateway from the list"
    if law_enforcement:
        if sender_kind != OrgKind.police:
            errors["part_3"] = "Only the police share under Part 3 (law enforcement)"
        elif not choice.part_3:
            errors["part_3"] = "Choose the section 35 condition with its Schedule 8 paragraph"
    else:
        if not choice.article_6:
            errors.setdefault("article_6", "Choose the Article 6 basis for sharing")
        elif choice.article_6 == "6(1)(f)" and sender_kind in PUBLIC_BODIES:
            errors["article_6"] = "Public bodies cannot use legitimate interests (6(1)(f)) for their public tasks"
        if special_category and not choice.article_9:
            errors["article_9"] = "Special-category information (such as health) needs an Article 9 condition"
        if criminal_offence and not choice.article_10:
            errors["article_10"] = "Criminal-offence information needs an Article 10 condition"
    if not choice.gateway:
        errors.setdefault("gateway", "Choose the statutory gateway that allows this sharing")
    return errors
