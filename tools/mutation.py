"""Mutation testing of one part of the hub, with mutmut: `python -m tools.mutation permissions`.

Each target names the modules to mutate and the tests that must kill the mutants. The run works
in a scratch copy of the checkout (`.mutation/<target>/`, ignored by git), so the working tree is
never touched, and prints the score: killed / (killed + survived), mutants no selected test runs
counted apart. Surviving mutants are listed with `python -m tools.mutation permissions --survivors`
(the reason each is equivalent is written down in bench/README.md).

A whole run takes hours on two cores, longer than a working session, and the scratch copy does
not outlive its checkout. So each mutant's verdict is kept in a ledger committed with the code,
`bench/mutation/<target>/` (mutmut's per-module `.meta` files: every mutant's verdict and a hash of
each function it belongs to; and its `mutmut-stats.json`, gzipped: which tests reach which
function). A run seeds a fresh scratch copy from the ledger, and mutmut then runs only the mutants
without a verdict and those of functions whose code changed since (their hash differs); `--save`
writes the ledger from the scratch copy, and every run saves it when it ends. Every run also
judges the ledger's unexplained survivors again, since tests may have been written against them
(timeouts only with `--resume`: most are endless loops, each minutes to judge). A verdict of
"killed" is not re-checked when tests are removed: `--fresh` starts again from nothing. Changing a
target's test selection makes mutmut judge every mutant again."""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from mutmut.stats import status_by_exit_code

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {
    "permissions": {
        "mutate": ["hub/permissions/*"],
        # The access rules' own tests, and the holes found from outside: fast, one world each.
        "tests": ["tests/permissions/", "tests/mace/test_access_holes.py", "tests/mace/test_proposals.py",
                  "tests/test_access_cache.py",
                  # The reports' scope (hub/permissions/reports.py): a school, the analyst, the returns.
                  "tests/reports/test_school_reports.py", "tests/reports/test_withholding.py",
                  "tests/reports/test_returns_access.py", "tests/reports/test_scoping.py",
                  # Retention's rules (hub/permissions/retention.py) and the organisation DPO's
                  # event scope (hub/permissions/dpo.py), each with the tests written for them.
                  "tests/retention/", "tests/audit/test_dpo_scope_index.py"],
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


def _ledger(name: str) -> Path:
    return ROOT / "bench" / "mutation" / name


def save_ledger(name: str) -> int:
    """The scratch copy's verdicts and test statistics into the committed ledger."""
    mutants, ledger = ROOT / ".mutation" / name / "mutants", _ledger(name)
    metas = sorted(mutants.rglob("*.py.meta")) if mutants.is_dir() else []
    if not metas:
        print(f"no run of {name} to save")
        return 1
    for meta in metas:  # the verdicts only: the equivalents' list stays
        try:
            json.loads(meta.read_text())
        except ValueError:  # mutmut is writing it this moment: keep the ledger's last whole copy
            continue
        target = ledger / meta.relative_to(mutants)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(meta, target)
    stats = mutants / "mutmut-stats.json"
    if stats.exists():
        (ledger / "mutmut-stats.json.gz").write_bytes(gzip.compress(stats.read_bytes(), 9, mtime=0))
    print(f"saved {len(metas)} modules' verdicts to {ledger.relative_to(ROOT)}")
    return 0


def _seed_from_ledger(name: str, scratch: Path) -> None:
    """A scratch copy without verdicts starts from the ledger's (mutmut keeps a verdict only while
    its function's hash is unchanged)."""
    ledger, mutants = _ledger(name), scratch / "mutants"
    if not ledger.is_dir() or any(mutants.rglob("*.py.meta")):
        return
    for meta in ledger.rglob("*.py.meta"):
        target = mutants / meta.relative_to(ledger)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(meta, target)  # copied now, so older than the mutants mutmut is about to write
    stats = ledger / "mutmut-stats.json.gz"
    if stats.exists():
        (mutants / "mutmut-stats.json").write_bytes(gzip.decompress(stats.read_bytes()))


def run(name: str, children: int, resume: bool = False, fresh: bool = False) -> int:
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
    if not fresh:
        _seed_from_ledger(name, scratch)
        # A survivor's verdict is kept while its function is unchanged, but tests may have been
        # written against it since: every run judges the ledger's unfinished mutants again.
        # (Those read and listed as equivalent are not: the same behaviour however a test looks.)
        # A mutant that ran past its time limit is not: most are endless loops, each costing minutes
        # to judge again (`--resume` judges them again, for a run made on a loaded machine).
        equivalent = _equivalents(name)
        rerun = rerun or [m for m, status in _results(name).items()
                          if status in ("survived", "no tests") and m not in equivalent]
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
    save_ledger(name)
    return report(name)


def _results(name: str) -> dict[str, str]:
    """Each mutant's verdict: from the scratch copy's run when there is one, else the ledger's."""
    mutants = ROOT / ".mutation" / name / "mutants"
    source = mutants if any(mutants.rglob("*.py.meta")) else _ledger(name)
    found = {}
    for meta in source.rglob("*.py.meta"):
        try:
            verdicts = json.loads(meta.read_text())["exit_code_by_key"]
        except ValueError:  # mutmut is writing it this moment: the ledger's copy is the last whole one
            saved = _ledger(name) / meta.relative_to(source)
            verdicts = json.loads(saved.read_text())["exit_code_by_key"] if saved.exists() else {}
        for mutant, exit_code in verdicts.items():
            found[mutant] = status_by_exit_code.get(exit_code, "suspicious")
    return found


def _equivalents(name: str) -> dict[str, str]:
    """Survivors read and found equivalent (the same behaviour however a test looks), each with
    its reason: `bench/mutation/<target>/equivalent.tsv`, one `mutant<TAB>reason` a line."""
    path = _ledger(name) / "equivalent.tsv"
    if not path.exists():
        return {}
    rows = (line.split("\t", 1) for line in path.read_text().splitlines() if line.strip() and not line.startswith("#"))
    return {mutant.strip(): reason.strip() for mutant, reason in rows}


def report(name: str) -> int:
    """The score over the mutants judged: killed (a test failed, or the mutant ran past its time
    limit) against killed + survived (no test reaching it counts as survived), the survivors found
    equivalent set aside."""
    results, equivalent = _results(name), _equivalents(name)
    counts: dict[str, int] = {}
    for status in results.values():
        counts[status] = counts.get(status, 0) + 1
    killed = counts.get("killed", 0) + counts.get("timeout", 0)
    # A mutant no selected test reaches survives as surely as one they run and miss.
    survivors = [m for m, status in results.items() if status in ("survived", "no tests")]
    unexplained = [m for m in survivors if m not in equivalent]
    judged = killed + len(unexplained)
    score = killed / judged if judged else 0.0
    print(f"mutation score of {name}: {score:.1%} = {killed} killed (timeouts included) / {judged} "
          f"(survivors: {len(survivors)}, of which {len(survivors) - len(unexplained)} equivalent, listed with "
          f"their reasons, and {len(unexplained)} not); of {len(results)} mutants: "
          + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return 0


def survivors(name: str) -> None:
    """The survivors not yet explained, then those found equivalent with their reasons."""
    equivalent = _equivalents(name)
    found = sorted(m for m, status in _results(name).items() if status in ("survived", "no tests"))
    for mutant in (m for m in found if m not in equivalent):
        print(mutant)
    for mutant in (m for m in found if m in equivalent):
        print(f"{mutant}\tequivalent: {equivalent[mutant]}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", choices=sorted(TARGETS))
    parser.add_argument("--children", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--survivors", action="store_true", help="list the survivors of the last run")
    parser.add_argument("--report", action="store_true", help="the score of the last run, without running")
    parser.add_argument("--resume", action="store_true",
                        help="continue the last run with the checkout's current code and tests")
    parser.add_argument("--fresh", action="store_true", help="ignore the committed ledger: judge every mutant again")
    parser.add_argument("--save", action="store_true", help="write the last run's verdicts to the ledger")
    args = parser.parse_args()
    if args.save:
        sys.exit(save_ledger(args.target))
    if args.survivors:
        survivors(args.target)
    elif args.report:
        report(args.target)
    else:
        sys.exit(run(args.target, args.children, args.resume, args.fresh))
