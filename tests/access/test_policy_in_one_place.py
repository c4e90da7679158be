"""The build fails on a role test, or a role set, written outside hub/permissions/.

A role never opens anything by itself (hub/permissions/roles.py): whoever asks "may this user do
this" asks hub.permissions, which names the relationship or capability. So outside the package no
code compares a role (`user.role == Role.x`, `Role.x in user.roles`, `role in {...}`,
`user.roles & SOME_ROLES`, `member.role in MACE_CHAIR_ROLES`), calls `has_role`, or defines a set of
roles; and no template tests a role. The checker is tried on snippets of each shape first, so this
test can fail.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import pysource

HUB = Path(__file__).resolve().parents[2] / "hub"
#: Files outside hub/permissions/ allowed to name roles in these shapes, and why.
ALLOWED = {
    # The enums themselves, their labels, and which roles each kind of organisation may be given
    # (checked when an administrator assigns roles: what may be held, not what it opens).
    "models/roles.py",
    # The `has_role` primitive of a person: it is called only from hub/permissions/ (checked below).
    "models/auth.py",
}
ROLE_ENUMS = {"Role", "MemberRole"}


def _is_role_value(node: ast.AST) -> bool:
    """`Role.x`, `MemberRole.x`, a name or attribute ending `_ROLES`/`ROLES`, `.role`, `.roles`."""
    if isinstance(node, ast.Attribute):
        if isinstance(node.value, ast.Name) and node.value.id in ROLE_ENUMS:
            return True
        return node.attr in ("role", "roles") or node.attr.endswith("ROLES")
    if isinstance(node, ast.Name):
        return node.id.endswith("ROLES") or node.id in ("role", "roles")
    if isinstance(node, (ast.Set, ast.List, ast.Tuple)):
        return any(_is_role_value(e) for e in node.elts)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("set", "frozenset"):
        return any(_is_role_value(a) for a in node.args)
    return False


def _role_literal(node: ast.AST) -> bool:
    """A literal collection of role enum values (a role set)."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("set", "frozenset") \
            and node.args:
        return _role_literal(node.args[0])
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.BitOr, ast.BitAnd, ast.Sub)):
        return _role_literal(node.left) or _role_literal(node.right)
    return isinstance(node, (ast.Set, ast.List, ast.Tuple)) and bool(node.elts) and all(
        isinstance(e, ast.Attribute) and isinstance(e.value, ast.Name) and e.value.id in ROLE_ENUMS
        for e in node.elts)


def _is_role_constant(node: ast.AST) -> bool:
    """A role named in code: `Role.x`, `MemberRole.x`, a `*_ROLES` set, a literal collection of them,
    or a role's name as a string."""
    if isinstance(node, ast.Attribute):
        return (isinstance(node.value, ast.Name) and node.value.id in ROLE_ENUMS) or node.attr.endswith("ROLES")
    if isinstance(node, ast.Name):
        return node.id.endswith("ROLES")
    if isinstance(node, (ast.Set, ast.List, ast.Tuple)):
        return any(_is_role_constant(e) for e in node.elts)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("set", "frozenset"):
        return any(_is_role_constant(a) for a in node.args)
    return False


def role_tests(source: str) -> list[tuple[int, str]]:
    """(line, what) for each role test or role set in the source."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(pysource.parse(source)):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            membership = any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops)
            # Two users' roles compared (an administrator's change detected) is no role test; a
            # role compared with a named role, or looked up in a collection, is.
            if any(_is_role_value(o) for o in operands) and (
                    membership or any(_is_role_constant(o) for o in operands)):
                found.append((node.lineno, "a comparison of roles"))
        elif isinstance(node, ast.BinOp) and isinstance(node.op, (ast.BitAnd, ast.Sub)) and (
                _is_role_value(node.left) or _is_role_value(node.right)):
            found.append((node.lineno, "a role set operation"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "has_role":
            found.append((node.lineno, "has_role"))
        elif ((isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None and _role_literal(node.value))
              or (isinstance(node, ast.Dict) and any(v is not None and _role_literal(v) for v in node.values))):
            found.append((node.lineno, "a role set"))
    return found


@pytest.mark.parametrize("snippet", [
    "if user.role == Role.dsl: pass",
    "ok = Role.analyst in user.roles",
    "ok = role in {Role.dsl, Role.deputy_dsl}",
    "ok = bool(user.roles & SHARING_ROLES)",
    "ok = member.role in MACE_CHAIR_ROLES",
    "ok = member.role is MemberRole.chair",
    "ok = user.has_role(Role.dpo)",
    "KEY_ADULTS = frozenset({Role.dsl, Role.deputy_dsl})",
    "READERS = {Role.dsl} | {Role.social_worker}",
    "BY_KIND = {'school': {Role.dsl}}",
    "ok = 'dpo' in roles",
])
def test_the_checker_finds_each_shape_of_role_test(snippet):
    assert role_tests(snippet), snippet


@pytest.mark.parametrize("snippet", [
    "ok = may_share(user)",
    "user = create_user(roles={Role.dsl})",  # giving a role is not testing one
    "q = select(User).where(UserRole.role.in_(AUTHORISER_ROLES))",  # a set named in hub.permissions
    "ok = kind == OrgKind.school",
    "changed = user.roles != details.roles",  # an administrator's change, detected
])
def test_the_checker_lets_what_is_not_a_role_test_through(snippet):
    assert not role_tests(snippet), snippet


def scan_hub() -> list[str]:
    """Every role test or role set in hub/ outside hub/permissions/ (and the files ALLOWED)."""
    found = []
    for path in sorted(HUB.rglob("*.py")):
        relative = path.relative_to(HUB).as_posix()
        if relative.startswith("permissions/") or relative in ALLOWED:
            continue
        found += [f"hub/{relative}:{line}: {what}" for line, what in role_tests(path.read_text())]
    return found


def test_no_role_test_or_role_set_outside_hub_permissions():
    # In a fresh interpreter: CPython 3.11's ast.parse can fail with "AST constructor recursion
    # depth mismatch" in a long-lived test process (gh-106905), whatever the source.
    scan = subprocess.run([sys.executable, "-c", "import json; from tests.access.test_policy_in_one_place import "
                           "scan_hub; print(json.dumps(scan_hub()))"], cwd=HUB.parent, capture_output=True,
                          text=True, check=True)
    found = json.loads(scan.stdout)
    assert not found, "role tests outside hub/permissions/ (ask hub.permissions instead):\n" + "\n".join(found)


def test_has_role_is_called_only_from_hub_permissions():
    calls = [f"hub/{p.relative_to(HUB).as_posix()}" for p in HUB.rglob("*.py")
             if not p.relative_to(HUB).as_posix().startswith("permissions/") and ".has_role(" in p.read_text()]
    assert not calls, calls


#: A template's test ({% if %}, {% elif %}) that names a role; showing a role's label is no test.
TEMPLATE_ROLE_TEST = re.compile(r"{%-?\s*(?:el)?if\b[^%]*(?:\.roles?\b|has_role|Role\.|_ROLES\b)")


def test_the_template_checker_finds_a_role_test():
    assert TEMPLATE_ROLE_TEST.search("{% if page.membership.role.value in ('chair', 'co_chair') %}")
    assert TEMPLATE_ROLE_TEST.search("{% elif current_user.has_role('dpo') %}")
    assert not TEMPLATE_ROLE_TEST.search("{{ m.role.label }}")
    assert not TEMPLATE_ROLE_TEST.search("{% if may.administer %}")


def test_no_template_tests_a_role():
    found = [f"{p.relative_to(HUB).as_posix()}:{n}: {line.strip()}"
             for p in sorted((HUB / "templates").rglob("*.html"))
             for n, line in enumerate(p.read_text().splitlines(), 1) if TEMPLATE_ROLE_TEST.search(line)]
    assert not found, "templates that test a role (give them a capability from hub.permissions):\n" + "\n".join(found)
