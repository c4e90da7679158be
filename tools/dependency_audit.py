"""The dependency vulnerability check: `python -m tools.dependency_audit` runs pip-audit over the
installed environment against PyPI's advisory data, and fails on any known vulnerability. Where
the advisory service cannot be reached (a registry mirror without PyPI's JSON API, no route to
osv.dev), it says so plainly and exits 0: an audit that could not run is reported, never passed
off as clean."""

from __future__ import annotations

import json
import subprocess
import sys


def main() -> int:
    done = subprocess.run([sys.executable, "-m", "pip_audit", "--progress-spinner", "off", "--format", "json",
                           "--local", "--skip-editable"], capture_output=True, text=True, check=False)
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        print("DEPENDENCY AUDIT NOT RUN: pip-audit could not reach an advisory service here "
              f"({(done.stderr.strip().splitlines() or ['no output'])[-1][:200]})")
        return 0
    dependencies = report.get("dependencies", [])
    audited = [d for d in dependencies if "skip_reason" not in d]
    vulnerable = [d for d in audited if d.get("vulns")]
    for dependency in vulnerable:
        for vuln in dependency["vulns"]:
            print(f"VULNERABLE: {dependency['name']} {dependency['version']}: {vuln['id']} "
                  f"(fixed in {', '.join(vuln.get('fix_versions') or ['no release yet'])})")
    if not audited:
        print(f"DEPENDENCY AUDIT NOT RUN: none of the {len(dependencies)} packages could be looked up "
              "(the registry here has no advisory data); run it where PyPI or osv.dev answers.")
        return 0
    print(f"Dependency audit: {len(audited)} of {len(dependencies)} packages checked, "
          f"{len(vulnerable)} with known vulnerabilities.")
    return 1 if vulnerable else 0


if __name__ == "__main__":
    sys.exit(main())
