"""Validation of the real identifiers organisations and children carry.

Each function returns the normalised value or raises ValueError with a message a person can act
on; forms and the service layer both call these, so the rule lives in one place.
"""

from __future__ import annotations

import re

from hub.models.roles import OrgKind

UPN_CHECK_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"


def nhs_number(value: str) -> str:
    """10 digits whose last is the modulus 11 check digit of the first nine."""
    digits = re.sub(r"[\s-]", "", value or "")
    if not re.fullmatch(r"\d{10}", digits):
        raise ValueError("Enter an NHS number of 10 digits, like 943 476 5919")
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    if check == 10 or check != int(digits[9]):
        raise ValueError("That NHS number is not valid: check the digits")
    return digits


def unique_pupil_number(value: str) -> str:
    """13 characters: a check letter then 12 characters (DfE UPN specification)."""
    upn = re.sub(r"\s", "", value or "").upper()
    if not re.fullmatch(r"[A-Z]\d{11}[0-9A-Z]", upn):
        raise ValueError("Enter a unique pupil number of 13 characters, like A123456789012")
    values = [int(c) if c.isdigit() else UPN_CHECK_LETTERS.index(c) if c in UPN_CHECK_LETTERS else -1
              for c in upn[1:]]
    if -1 in values:
        raise ValueError("That unique pupil number is not valid: check the last character")
    total = sum(v * w for v, w in zip(values, range(2, 14), strict=True))
    if UPN_CHECK_LETTERS[total % 23] != upn[0]:
        raise ValueError("That unique pupil number is not valid: the check letter does not match")
    return upn


def short_reference(value: str, label: str) -> str:
    ref = (value or "").strip().upper()
    if not re.fullmatch(r"[A-Z0-9/\-]{2,30}", ref):
        raise ValueError(f"Enter a {label} of 2 to 30 letters, digits, / or -")
    return ref


ORG_CODE_RULES: dict[OrgKind, tuple[str, str]] = {
    OrgKind.school: (r"\d{6}", "a school URN of 6 digits, like 107250"),
    OrgKind.health: (r"[A-Z0-9]{3}|[A-Z0-9]{5}", "an NHS ODS code of 3 or 5 letters and digits, like RXF"),
    OrgKind.police: (r"\d{2}", "a police force code of 2 digits, like 13"),
    OrgKind.childrens_social_care: (r"\d{3}", "a local authority code of 3 digits, like 382"),
    OrgKind.la_education: (r"\d{3}", "a local authority code of 3 digits, like 382"),
    OrgKind.mace_host: (r"[A-Z0-9\-]{2,20}", "a code of 2 to 20 letters, digits or -"),
    OrgKind.voluntary: (r"\d{6,8}", "a charity number of 6 to 8 digits"),
}


def organisation_identifier(kind: OrgKind, value: str) -> str:
    ident = re.sub(r"\s", "", value or "").upper()
    pattern, description = ORG_CODE_RULES[kind]
    if not re.fullmatch(pattern, ident):
        raise ValueError(f"Enter {description}")
    return ident
