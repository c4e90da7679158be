"""Mutation testing of the audit log's proofs and checks: `make proof-audit`, or
`.venv/bin/python -m bench._mutation [--max-children 2] [--no-run]`.

mutmut (the `proof` extra, pinned in pyproject.toml; its settings under [tool.mutmut]) mutates
hub/audit/merkle.py and hub/audit/verification.py and runs, for each mutant, the tests of
tests/audit that reach the mutated function (test_merkle_vectors, test_verifier_branches: the
tests written for every branch; the slower tamper and worker tests prove the same paths end to
end but would make a run take hours). A mutant is *killed* when a test fails (or it runs past its time
limit). The score is killed / (all mutants - equivalent ones); each mutant that survives must be
listed in EQUIVALENT below with why no test can tell it from the original (bench/README.md gives
the same list). Exit status 1 when the score is under 95% or a surviving mutant is not listed.
About 45 minutes on 2 cores; the run leaves its work in mutants/ (ignored by git).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOAL = 95.0

#: Surviving mutants that behave exactly as the original, and why (kept in step with bench/README.md).
EQUIVALENT: dict[str, str] = {
    'hub.audit.verification.x__check_counter__mutmut_8':
        'size <= before: the line is reached only when size < before or size > after, never at size == before',
    'hub.audit.verification.x__first_entry_after__mutmut_7':
        "a.size > start: an anchor of exactly the start's size contributes start, which is the default anyway",
    'hub.audit.verification.x__pair_digest__mutmut_4':
        "int.from_bytes's byte order defaults to big-endian (Python 3.11)",
    'hub.audit.verification.x__pair_digest__mutmut_6':
        'a 9-byte digest: both sides of the comparison use the same function, summed modulo 2**64 alike',
    'hub.audit.verification.x_verify_log__mutmut_60':
        'fetches a superset of the stored nodes (or all of them); nodes are looked up by key, so the check is the same',
    'hub.audit.verification.x_verify_log__mutmut_61':
        'fetches a superset of the stored nodes (or all of them); nodes are looked up by key, so the check is the same',
    'hub.audit.verification.x_verify_since__mutmut_83':
        'fetches a superset of the stored nodes (or all of them); nodes are looked up by key, so the check is the same',
    'hub.audit.verification.x__stored_nodes__mutmut_9':
        'fetches a superset of the stored nodes (or all of them); nodes are looked up by key, so the check is the same',
    'hub.audit.verification.x__stored_nodes__mutmut_10':
        'fetches a superset of the stored nodes (or all of them); nodes are looked up by key, so the check is the same',
    'hub.audit.verification.x__stored_nodes__mutmut_11':
        'fetches a superset of the stored nodes (or all of them); nodes are looked up by key, so the check is the same',
    'hub.audit.verification.x__stored_nodes__mutmut_12':
        'fetches a superset of the stored nodes (or all of them); nodes are looked up by key, so the check is the same',
    'hub.audit.verification.x__stored_nodes__mutmut_13':
        'fetches a superset of the stored nodes (or all of them); nodes are looked up by key, so the check is the same',
    'hub.audit.verification.x__stored_nodes__mutmut_14':
        'fetches a superset of the stored nodes (or all of them); nodes are looked up by key, so the check is the same',
    'hub.audit.verification.x_verify_log__mutmut_73':
        "{} and None are both falsy; the proofs map is read only below an incremental check's start",
    'hub.audit.verification.x__scan__mutmut_4':
        "fast=None is falsy like False: the columns are fetched and then not compared (the caller's fast decides)",
    'hub.audit.verification.x__events__mutmut_14':
        'an execution option (stream_results / yield_per): how rows are fetched, not which',
    'hub.audit.verification.x__events__mutmut_15':
        'an execution option (stream_results / yield_per): how rows are fetched, not which',
    'hub.audit.verification.x__events__mutmut_16':
        'an execution option (stream_results / yield_per): how rows are fetched, not which',
    'hub.audit.verification.x__events__mutmut_17':
        'an execution option (stream_results / yield_per): how rows are fetched, not which',
    'hub.audit.verification.x__events__mutmut_18':
        'an execution option (stream_results / yield_per): how rows are fetched, not which',
    'hub.audit.verification.x__check_listing_index__mutmut_3':
        'an execution option (stream_results / yield_per): how rows are fetched, not which',
    'hub.audit.verification.x__check_listing_index__mutmut_4':
        'an execution option (stream_results / yield_per): how rows are fetched, not which',
    'hub.audit.verification.x__check_listing_index__mutmut_5':
        'an execution option (stream_results / yield_per): how rows are fetched, not which',
    'hub.audit.verification.x__check_listing_index__mutmut_6':
        'an execution option (stream_results / yield_per): how rows are fetched, not which',
    'hub.audit.verification.x__check_listing_index__mutmut_22':
        'an execution option (stream_results / yield_per): how rows are fetched, not which',
    'hub.audit.verification.x__check_listing_index__mutmut_10':
        "drops seq < tree_size: no integrated entry lies past a complete scan's end (only one integrated during the check could)",
    'hub.audit.verification.x__check_listing_index__mutmut_21':
        'seq <= tree_size: as above, no entry is numbered tree_size after a complete scan',
    'hub.audit.verification.x__proof_nodes__mutmut_13':
        'a chunk step of 1: overlapping slices fetch the same union of nodes',
    'hub.audit.merkle.x_verify_inclusion__mutmut_35':
        "fn != 1 for fn != 0: fn is never 0 there (sn == 0 returns first and fn <= sn), and at fn == 1 the loop's other condition already stops it",
}


def results() -> dict[str, str]:
    out = subprocess.run([sys.executable, "-m", "mutmut", "results", "--all", "true"], cwd=REPO,
                         capture_output=True, text=True, check=True).stdout
    found = {}
    for line in out.splitlines():
        name, _, status = line.strip().rpartition(": ")
        if name:
            found[name] = status
    return found


def score(found: dict[str, str]) -> tuple[float, list[str]]:
    counts = Counter(found.values())
    equivalent = [n for n in found if n in EQUIVALENT]
    killed = sum(1 for n, s in found.items() if s in ("killed", "timeout") and n not in EQUIVALENT)
    considered = len(found) - len(equivalent)
    unexplained = sorted(n for n, s in found.items() if s not in ("killed", "timeout") and n not in EQUIVALENT)
    value = 100.0 * killed / considered if considered else 0.0
    print(f"mutants: {len(found)} ({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))}); "
          f"equivalent: {len(equivalent)}")
    print(f"score: {killed} of {considered} non-equivalent mutants killed = {value:.1f}% (goal {GOAL:.0f}%)")
    for name in sorted(set(equivalent)):
        print(f"  equivalent {name}: {EQUIVALENT[name]}")
    for name in unexplained:
        print(f"  NOT KILLED {name} ({found[name]})")
    return value, unexplained


def sqlite_template() -> str:
    """One migrated SQLite database for every mutant's test session to copy (tests/conftest.py's
    HUB_TEST_SQLITE_TEMPLATE): migrating a template per mutant would cost more than its tests."""
    path = REPO / "mutants" / "template.sqlite3"
    path.parent.mkdir(exist_ok=True)
    path.unlink(missing_ok=True)
    subprocess.run([sys.executable, "-c", f"from tests.conftest import _migrate; _migrate('sqlite:///{path}')"],
                   cwd=REPO, check=True)
    return str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-children", type=int, default=2)
    parser.add_argument("--no-run", action="store_true", help="only report the results of the last run")
    args = parser.parse_args(argv)
    if not args.no_run:
        env = {**os.environ, "HUB_TEST_SQLITE_TEMPLATE": sqlite_template()}
        # mutmut resumes where it stopped; a mutant that hangs a test has been seen to end the whole
        # run with it, so run again while mutants are left unchecked (a few times at most).
        for _ in range(8):
            subprocess.run([sys.executable, "-m", "mutmut", "run", "--max-children", str(args.max_children)],
                           cwd=REPO, env=env)
            if "not checked" not in results().values():
                break
    value, unexplained = score(results())
    return 0 if value >= GOAL and not unexplained else 1


if __name__ == "__main__":
    sys.exit(main())
