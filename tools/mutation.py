"""Mutation testing of one part of the hub, with mutmut: `python -m tools.mutation permissions`.

Each target names the modules to mutate and the tests that must kill the mutants. The run works
in a scratch copy of the checkout (`.mutation/<target>/`, ignored by git), so the working tree is
never touched, and prints the score: killed / (killed + survived), mutants no selected test runs
counted apart. Surviving mutants are listed with `python -m tools.mutation permissions --survivors`
(the reason each is equivalent is written down in bench/README.md).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {
    "permissions": {
        "mutate": ["hub/permissions/*"],
        # The access rules' own tests, and the holes found from outside: fast, one world each.
        "tests": ["tests/permissions/", "tests/mace/test_access_holes.py", "tests/mace/test_proposals.py",
                  "tests/test_access_cache.py",
                  # The reports' scope (hub/permissions/reports.py): a school, the analyst, the returns.
                  "tests/reports/test_school_reports.py", "tests/reports/test_withholding.py",
                  "tests/reports/test_returns_access.py", "tests/reports/test_scoping.py"],
        # The tables module renders the README's tables: a test compares them, not the policy.
        "skip": ["hub/permissions/table.py"],
    },
    # The audit log's proofs and checks (issue 20): the tests written for every branch.
    "audit": {
        "mutate": ["hub/audit/merkle.py", "hub/audit/verification.py"],
        "tests": ["tests/audit/test_merkle_vectors.py", "tests/audit/test_verifier_branches.py"],
    },
}


def _copy_checkout(scratch: Path) -> None:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                           capture_output=True).stdout.decode().split("\0")
    for name in filter(None, files):
        source, target = ROOT / name, scratch / name
        if source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def _refresh_mutants_copy(scratch: Path) -> None:
    """mutmut regenerates the mutated modules that changed, but keeps its first copy of every other
    file (templates, data): bring those up to date, or a resumed run tests today's code against
    yesterday's templates."""
    mutants = scratch / "mutants"
    if not mutants.is_dir():
        return
    for source in (scratch / "hub").rglob("*"):
        if source.is_file() and source.suffix != ".py":
            target = mutants / source.relative_to(scratch)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def _config(target: dict) -> str:
    lines = ["[mutmut]", "source_paths=hub/", "only_mutate=" + "\n    ".join(target["mutate"]),
             "do_not_mutate=" + "\n    ".join(target.get("skip", [])),
             "also_copy=migrations/\n    alembic.ini\n    README.md",
             "pytest_add_cli_args=-p no:xdist -q",
             "pytest_add_cli_args_test_selection=" + "\n    ".join(target["tests"])]
    return "\n".join(lines) + "\n"


def run(name: str, children: int, resume: bool = False) -> int:
    """A fresh run; or, with `resume`, the last run's scratch copy brought up to date with the
    checkout: mutmut regenerates the mutants of changed functions, collects which new tests reach
    what, runs the mutants not yet judged, and runs the survivors again against the new tests."""
    target = TARGETS[name]
    scratch = ROOT / ".mutation" / name
    resume = resume and scratch.exists()
    unfinished = ("survived", "no tests", "timeout")
    rerun = [m for m, status in _results(name).items() if status in unfinished] if resume else []
    if scratch.exists() and not resume:
        shutil.rmtree(scratch)
    # The cached world is built by the tests' own code, which may have changed since.
    shutil.rmtree(scratch / ".world", ignore_errors=True)
    scratch.mkdir(parents=True, exist_ok=True)
    _copy_checkout(scratch)
    if resume:
        _refresh_mutants_copy(scratch)
    # mutmut reads [tool.mutmut] from pyproject.toml before setup.cfg: the target's config rules.
    (scratch / "setup.cfg").write_text(_config(target))
    # The scratch copy has no ../shared beside it: the RFC 9162 vectors are named where they are.
    env = {**os.environ, "HUB_ACCESS_WORLD_CACHE": str(scratch / ".world"),
           "HUB_RFC9162_VECTORS": str(ROOT.parent / "shared" / "vectors" / "rfc9162" / "testdata")}
    mutmut = Path(sys.executable).parent / "mutmut"
    subprocess.run([str(mutmut), "run", "--max-children", str(children)], cwd=scratch, env=env, check=False)
    if rerun:
        subprocess.run([str(mutmut), "run", "--max-children", str(children), *rerun], cwd=scratch, env=env,
                       check=False)
    return report(name)


def _results(name: str) -> dict[str, str]:
    scratch = ROOT / ".mutation" / name
    mutmut = Path(sys.executable).parent / "mutmut"
    out = subprocess.run([str(mutmut), "results", "--all", "true"], cwd=scratch, capture_output=True, text=True,
                         check=False).stdout
    found = {}
    for line in out.splitlines():
        match = re.match(r"\s*(\S+):\s*(\w[\w ]*)$", line)
        if match:
            found[match.group(1)] = match.group(2).strip()
    return found


def report(name: str) -> int:
    results = _results(name)
    counts: dict[str, int] = {}
    for status in results.values():
        counts[status] = counts.get(status, 0) + 1
    killed, survived = counts.get("killed", 0), counts.get("survived", 0)
    score = killed / (killed + survived) if killed + survived else 0.0
    print(f"mutation score of {name}: {killed} killed, {survived} survived, {score:.1%} "
          f"(other: {', '.join(f'{k} {v}' for k, v in sorted(counts.items()) if k not in ('killed', 'survived'))})")
    return 0


def survivors(name: str) -> None:
    for mutant, status in sorted(_results(name).items()):
        if status == "survived":
            print(mutant)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", choices=sorted(TARGETS))
    parser.add_argument("--children", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--survivors", action="store_true", help="list the survivors of the last run")
    parser.add_argument("--report", action="store_true", help="the score of the last run, without running")
    parser.add_argument("--resume", action="store_true",
                        help="continue the last run with the checkout's current code and tests")
    args = parser.parse_args()
    if args.survivors:
        survivors(args.target)
    elif args.report:
        report(args.target)
    else:
        sys.exit(run(args.target, args.children, args.resume))
