"""Static security checks in every run: bandit over the hub's code finds nothing that is not fixed
or justified inline (`# nosec <id>` beside a comment saying why). The dependency vulnerability
check (pip-audit) needs the advisory service: `.ci/run` runs tools/dependency_audit.py."""

from __future__ import annotations

import ast
import random
import subprocess
import sys
from pathlib import Path

import pyotp.compat

from tests.support import pysource

REPO = Path(__file__).resolve().parents[1]


def test_bandit_finds_nothing_unjustified_in_the_hub():
    done = subprocess.run([sys.executable, "-m", "bandit", "-q", "-r", "hub", "-f", "custom",
                           "--msg-template", "{relpath}:{line} {test_id} {severity} {msg}"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    findings = [line for line in done.stdout.splitlines() if line.startswith("hub/")]
    assert done.returncode == 0 and findings == [], "\n".join(findings) or done.stderr[-2000:]


def test_every_nosec_says_why():
    """A `# nosec` alone would silence a finding with no reason a reviewer can weigh."""
    unexplained = []
    for path in sorted((REPO / "hub").rglob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines):
            if "# nosec" in line and "bandit" not in (lines[number - 1] if number else "") + line:
                unexplained.append(f"{path.relative_to(REPO)}:{number + 1}")
    assert unexplained == [], "nosec without a comment naming the bandit check and why:\n" + "\n".join(unexplained)


def _hub_modules():
    for path in sorted((REPO / "hub").rglob("*.py")):
        yield path.relative_to(REPO).as_posix(), pysource.parse_file(path)


RE_FUNCTIONS = {"compile", "search", "match", "fullmatch", "sub", "subn", "split", "findall", "finditer"}
#: Patterns not written as a literal at the call, each read and found to come from the code alone.
PATTERNS_FROM_CODE = {
    ("hub/api/views.py", "IDEMPOTENCY_KEY"): "an f-string over the service's length constant",
    ("hub/validators.py", "pattern"): "ORG_CODE_RULES, a table of literal patterns keyed by organisation kind",
}


def _is_constant_name(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id.isupper()


def test_no_regular_expression_is_built_from_input():
    """ASVS V1.2.9: every pattern given to `re` is a literal, a module constant or one of the
    listed, read ones; so no user input is ever compiled as a pattern (and none needs escaping)."""
    found = []
    for path, tree in _hub_modules():
        assignments = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                assignments[node.targets[0].id] = node.value
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "re"
                    and node.func.attr in RE_FUNCTIONS and node.args):
                continue
            pattern = node.args[0]
            if isinstance(pattern, ast.Constant) and isinstance(pattern.value, str):
                continue
            name = pattern.id if isinstance(pattern, ast.Name) else None
            owner = next((target for target, value in assignments.items() if value is node), name)
            if (path, owner) not in PATTERNS_FROM_CODE:
                found.append(f"{path}:{node.lineno} re.{node.func.attr}({ast.unparse(pattern)[:60]})")
    assert found == [], "patterns not written in the code (escape input with re.escape, or read and list them):\n" \
        + "\n".join(found)


def test_no_format_string_comes_from_input():
    """ASVS V1.3.10: `str.format` and `format_map` are only ever called on a literal or on a
    module constant (an e-mail body, a reference template), never on text that came in; %-format
    is used for numbers only (no `"..." % value` on a non-literal string)."""
    found = []
    for path, tree in _hub_modules():
        chosen = {}  # a name bound, in a tuple assignment, to constants only (e.g. subject, body = (A, B) if ...)
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Tuple):
                values = [n for n in ast.walk(node.value) if isinstance(n, ast.Name) and n.id.isupper()]
                for target in node.targets[0].elts:
                    if isinstance(target, ast.Name) and values:
                        chosen[target.id] = True
            # for n, (code, (system, reference)) in enumerate(SYSTEMS.items()): the table's literals
            if isinstance(node, ast.For) and isinstance(node.target, ast.Tuple) and isinstance(node.iter, ast.Call) \
                    and any(_is_constant_name(n) for n in ast.walk(node.iter)):
                for target in ast.walk(node.target):
                    if isinstance(target, ast.Name):
                        chosen[target.id] = True
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr in ("format", "format_map"):
                receiver = node.func.value
                literal = isinstance(receiver, ast.Constant) and isinstance(receiver.value, str)
                if not (literal or _is_constant_name(receiver)
                        or (isinstance(receiver, ast.Name) and chosen.get(receiver.id))):
                    found.append(f"{path}:{node.lineno} {ast.unparse(receiver)[:60]}.{node.func.attr}(...)")
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) and not (
                    isinstance(node.left, ast.Constant) and isinstance(node.left.value, str)):
                # A modulus by a number (an int or a constant, or arithmetic of them) is arithmetic.
                numeric = all(isinstance(leaf, (ast.BinOp, ast.operator)) or _is_constant_name(leaf)
                              or (isinstance(leaf, ast.Constant) and type(leaf.value) is int)
                              for leaf in ast.walk(node.right) if not isinstance(leaf, ast.Load))
                if not numeric:
                    found.append(f"{path}:{node.lineno} {ast.unparse(node)[:60]}")
    assert found == [], "format strings that may not be the code's own:\n" + "\n".join(found)


def test_secrets_come_from_the_secrets_module_only():
    """ASVS V6.5.3, V11.5.1: `random` (not a CSPRNG) is imported only where nothing secret is made:
    the demo data's repeatable choices and the delivery worker's retry jitter; recovery codes, session
    and API tokens and TOTP seeds use `secrets` (pyotp.random_base32 draws from it too)."""
    importing = set()
    for path, tree in _hub_modules():
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) else []
            if "random" in names:
                importing.add(path)
    assert importing == {"hub/demo.py", "hub/notifications/delivery.py"}
    second_factor = (REPO / "hub" / "auth" / "second_factor.py").read_text(encoding="utf-8")
    assert "secrets.token_hex" in second_factor and "pyotp.random_base32" in second_factor
    assert isinstance(pyotp.compat.random, random.SystemRandom)  # the seeds' source: the OS's CSPRNG
