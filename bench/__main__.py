"""`python -m bench` (or `make bench`): every benchmark in this folder, one after another.

A benchmark is any `bench/*.py` module with a `main(argv)` function; it is found here without
being listed. `python -m bench http_throughput` runs only the named ones. One benchmark failing
does not stop the others; the exit status is 1 if any failed.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import traceback
from pathlib import Path


def benchmarks() -> list[str]:
    folder = Path(__file__).resolve().parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(folder)]) if not m.name.startswith("_"))
    return [n for n in names if callable(getattr(importlib.import_module(f"bench.{n}"), "main", None))]


def run(names: list[str]) -> int:
    failed = []
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        title = (module.__doc__ or name).strip().splitlines()[0]
        print(f"\n== {name}: {title} ==", flush=True)
        try:
            module.main([])  # defaults; not this command's own arguments
        except Exception:  # noqa: BLE001 - report and go on to the next benchmark
            traceback.print_exc()
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    found = benchmarks()
    wanted = sys.argv[1:] or found
    unknown = sorted(set(wanted) - set(found))
    if unknown:
        sys.exit(f"no such benchmark: {', '.join(unknown)} (found: {', '.join(found)})")
    sys.exit(run(wanted))
