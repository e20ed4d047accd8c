"""The CI's pip-audit step: a real finding fails the build, an unreachable service only warns."""
from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("ci_audit", ROOT / ".ci" / "audit.py")
audit = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(audit)


def test_a_known_vulnerability_fails():
    report = {"dependencies": [{"name": "jinja2", "version": "2.10", "vulns": [
        {"id": "PYSEC-2019-217", "fix_versions": ["2.10.1"], "description": "sandbox escape"}]},
        {"name": "flask", "version": "3.1.3", "vulns": []}]}
    status, message = audit.verdict(report, "", 1)
    assert status == 1 and "jinja2 2.10: PYSEC-2019-217 (fixed in 2.10.1)" in message


def test_an_unreachable_service_warns_and_passes():
    stderr = "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='pypi.org', port=443): Max retries exceeded"
    status, message = audit.verdict(None, stderr, 1)
    assert status == 0 and message.startswith("WARNING") and "nothing was audited" in message


def test_packages_the_service_does_not_know_are_a_warning():
    report = {"dependencies": [{"name": "flask", "skip_reason": "Dependency not found on PyPI and could not be audited"}]}
    status, message = audit.verdict(report, "", 0)
    assert status == 0 and "1 of 1 packages could not be audited" in message


def test_any_other_failure_of_pip_audit_fails():
    status, message = audit.verdict(None, "error: invalid requirement: 'flask=='", 1)
    assert status == 1 and "invalid requirement" in message


def test_a_clean_report_passes():
    status, message = audit.verdict({"dependencies": [{"name": "flask", "version": "3.1.3", "vulns": []}]}, "", 0)
    assert status == 0 and "no known vulnerabilities in 1 packages" in message
