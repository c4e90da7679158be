"""The tests themselves: every test can fail (it asserts, expects an exception, or calls a helper
that does), none asserts on the wall clock (timings belong in bench/, where a busy machine is
reported, not failed), and they share code one way (tests/conftest.py's docstring): no module
imports a test module or a conftest.py."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support import pysource

TESTS = Path(__file__).resolve().parent
CLOCKS = {"perf_counter", "monotonic", "time", "process_time"}


def _modules() -> dict[Path, ast.Module]:
    return {path: pysource.parse_file(path) for path in sorted(TESTS.rglob("*.py"))}


def _called(node: ast.AST) -> set[str]:
    names = set()
    for call in ast.walk(node):
        if isinstance(call, ast.Call):
            func = call.func
            names.add(func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else "")
    return names


def _checks_directly(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Assert) or (isinstance(n, ast.Attribute) and n.attr in {"raises", "fail"})
               for n in ast.walk(node))


def _functions(modules) -> list[tuple[Path, ast.FunctionDef]]:
    return [(path, node) for path, tree in modules.items() for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]


def _asserting_helpers(functions) -> set[str]:
    """Names of helpers that assert, directly or through another such helper (to a fixed point)."""
    asserting = {f.name for _, f in functions if not f.name.startswith("test") and _checks_directly(f)}
    while True:
        more = {f.name for _, f in functions if not f.name.startswith("test") and _called(f) & asserting}
        if more <= asserting:
            return asserting
        asserting |= more


def test_every_test_can_fail():
    functions = _functions(_modules())
    helpers = _asserting_helpers(functions)
    silent = [f"{path.relative_to(TESTS)}:{f.lineno} {f.name}" for path, f in functions
              if f.name.startswith("test") and not _checks_directly(f) and not _called(f) & helpers]
    assert silent == [], "tests that check nothing:\n" + "\n".join(silent)


def test_no_test_asserts_on_the_wall_clock():
    timed = []
    for path, tree in _modules().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Assert) and _called(node.test) & CLOCKS:
                timed.append(f"{path.relative_to(TESTS)}:{node.lineno}")
    assert timed == [], "wall-clock assertions (move the timing to bench/):\n" + "\n".join(timed)


def _imported_modules(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, dotted name) of every module a file imports, at the top or inside a function."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            # `from tests.sso import test_sso` imports the module test_sso as a name.
            found += [(node.lineno, node.module)] + [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return found


def _test_or_conftest(dotted: str) -> bool:
    last = dotted.rsplit(".", 1)[-1]
    return dotted.startswith("tests.") and (last.startswith("test_") or last == "conftest")


def test_no_module_imports_a_test_module_or_a_conftest():
    imports = [f"{path.relative_to(TESTS)}:{line} imports {name}" for path, tree in _modules().items()
               for line, name in _imported_modules(tree) if _test_or_conftest(name)]
    assert imports == [], ("shared code belongs in a fixture of a conftest.py, tests/factories.py or "
                           "tests/support/ (tests/conftest.py says how):\n" + "\n".join(imports))


def test_the_benchmarks_share_their_factories_through_bench_not_tests():
    bench = TESTS.parent / "bench"
    imports = [f"bench/{path.name}:{line} imports {name}" for path in sorted(bench.glob("*.py"))
               for line, name in _imported_modules(pysource.parse_file(path))
               if name == "tests" or name.startswith("tests.")]
    assert imports == [], "a benchmark builds with bench/world.py, not tests/:\n" + "\n".join(imports)


def test_the_import_check_sees_each_way_of_importing_a_test_module():
    tree = ast.parse("import tests.sharing.test_share_service\n"
                     "from tests.missing.test_import import row\n"
                     "from tests.sso import test_sso\n"
                     "def f():\n    from tests.api.conftest import bearer\n"
                     "from tests.support.world import World\nfrom tests import factories\n")
    flagged = sorted({name for _, name in _imported_modules(tree) if _test_or_conftest(name)})
    assert flagged == ["tests.api.conftest", "tests.missing.test_import", "tests.sharing.test_share_service",
                       "tests.sso.test_sso"]


def test_every_test_is_where_pytest_collects_it():
    """A test function written in a helper module (not test_*.py) never runs: moving tests into
    a support module once silently dropped two SSO refusals."""
    stray = [f"{path.relative_to(TESTS)}:{node.lineno} {node.name}" for path, tree in _modules().items()
             if not path.name.startswith("test_") for node in tree.body
             if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_")]
    assert stray == [], "tests pytest does not collect (move them into a test_*.py module):\n" + "\n".join(stray)
