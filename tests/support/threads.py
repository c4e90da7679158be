"""Several workers at once, each in its own thread with its own database session."""

from __future__ import annotations

import threading

from hub import db


def in_threads(target, names: list[str]) -> dict[str, object]:
    """Run target(name) in one thread per name, started together; each thread has its own
    database session (the scoped session is per thread)."""
    barrier = threading.Barrier(len(names))
    results: dict[str, object] = {}
    errors: list[BaseException] = []

    def run(name: str) -> None:
        try:
            barrier.wait()
            results[name] = target(name)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            db.session.remove()

    threads = [threading.Thread(target=run, args=(name,)) for name in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return results
