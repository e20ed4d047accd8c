#!/usr/bin/env python3
"""CI: pip-audit against requirements.txt. A known vulnerability fails; an unreachable service warns.

PyPI's vulnerability data (or OSV) may be out of reach from a CI box: that must not turn the
build red, but it must say loudly that nothing was audited. A real finding always fails.
Usage: .ci/audit.py [requirements.txt]
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

#: What pip-audit (requests/urllib3) prints when the service cannot be reached.
UNREACHABLE = re.compile(r"ConnectionError|Max retries exceeded|timed out|Name or service not known|"
                         r"Temporary failure in name resolution|Connection refused|ServiceError|"
                         r"Network is unreachable|SSLError")


def verdict(report: dict | None, stderr: str, returncode: int) -> tuple[int, str]:
    """The exit status for CI and the message to print, from pip-audit's JSON report and stderr."""
    if report is None:
        if UNREACHABLE.search(stderr):
            return 0, "WARNING: pip-audit could not reach the vulnerability service; nothing was audited."
        return 1, f"pip-audit failed (exit {returncode}):\n{stderr.strip()[-2000:]}"
    dependencies = report.get("dependencies", [])
    found = [dep for dep in dependencies if dep.get("vulns")]
    if found:
        lines = [f"  {dep['name']} {dep.get('version', '')}: " + ", ".join(
            f"{vuln['id']} (fixed in {', '.join(vuln.get('fix_versions') or ['-'])})" for vuln in dep["vulns"])
            for dep in found]
        return 1, "Known vulnerabilities in requirements.txt:\n" + "\n".join(lines)
    skipped = [dep for dep in dependencies if dep.get("skip_reason")]
    if skipped:
        return 0, (f"WARNING: {len(skipped)} of {len(dependencies)} packages could not be audited "
                   f"(the service does not know them or is not reachable), e.g. {skipped[0]['skip_reason']}")
    return 0, f"pip-audit: no known vulnerabilities in {len(dependencies)} packages."


def main(requirements: str = "requirements.txt") -> int:
    pip_audit = Path(sys.executable).with_name("pip-audit")
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "report.json"
        result = subprocess.run(
            [str(pip_audit), "-r", requirements, "--no-deps", "--disable-pip", "--progress-spinner", "off",
             "--timeout", "15", "-f", "json", "-o", str(output)],
            capture_output=True, text=True)
        report = json.loads(output.read_text()) if output.exists() and output.stat().st_size else None
    status, message = verdict(report, result.stderr, result.returncode)
    print(message)
    return status


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
