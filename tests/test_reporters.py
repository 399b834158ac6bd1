"""Reporter specs, the one-standard-output rule, console wrapping and colour, the redacted log, streamed JSON."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from readiness.errors import UsageError
from readiness.logsetup import RedactingFilter
from readiness.reporters import parse_reporter, parse_reporters, use_color
from readiness.reporters.base import RenderOptions, render
from readiness.reporters.console import ConsoleReporter
from readiness.reporters.junit import JUnitReporter
from tests.reportschema import validate_report
from tests.synthetic import evaluate, make_estate

READINESS = [sys.executable, "-m", "readiness.cli"]
PLAIN_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*READINESS, *args], capture_output=True, text=True, timeout=120,
                          env={**PLAIN_ENV, **(env or {})})


@pytest.mark.parametrize(("texts", "needle"), [
    (["ssh://root@host"], "looks like a target URI"),
    (["json:ssh://x"], "looks like a target URI"),
    (["pdf:x"], "unknown reporter 'pdf'"),
    (["sarif"], "needs a destination"),
    (["cli", "json:-"], "only one reporter may write to standard output, got cli and json:-"),
    (["json:-", "sarif:-"], "only one reporter may write to standard output"),
    (["json:/tmp/x.json", "sarif:/tmp/x.json"], "same file"),
])
def test_bad_reporter_specs(texts: list[str], needle: str) -> None:
    with pytest.raises(UsageError, match=None) as caught:
        parse_reporters(texts)
    assert needle in str(caught.value)


def test_good_reporter_specs(tmp_path: Path) -> None:
    assert parse_reporters([]) == [parse_reporter("cli")]
    specs = parse_reporters(["json:-", f"sarif:{tmp_path / 'r.sarif'}", f"cli:{tmp_path / 'r.txt'}"])
    assert [(s.format, s.to_stdout) for s in specs] == [("json", True), ("sarif", False), ("cli", False)]


def test_reporter_specs_and_targets_are_told_apart(tmp_path: Path) -> None:
    # A target URI swallowed by --reporter is refused with a hint, never taken for a reporter.
    swallowed = run("scan", "--reporter", "cli", "ssh://root@127.0.0.1:1")
    assert swallowed.returncode == 2 and "looks like a target URI" in swallowed.stderr
    assert len(swallowed.stderr.strip().splitlines()) == 1
    # Targets before the flag, one spec per flag, and the report contract's several specs after one flag.
    proc = run("scan", "ssh://root@127.0.0.1:1", "--connect-timeout", "2", "--reporter", "json:-")
    assert proc.returncode == 3, proc.stderr
    assert json.loads(proc.stdout)["targets"][0]["target"] == "ssh://root@127.0.0.1:1"
    report = tmp_path / "r.json"
    contract = run("scan", "ssh://root@127.0.0.1:1", "--connect-timeout", "2", "--reporter", "cli", f"json:{report}")
    assert contract.returncode == 3, contract.stderr
    assert json.loads(report.read_text())["targets"][0]["status"] == "unknown"
    stray = run("scan", f"json:{report}")
    assert stray.returncode == 2 and "looks like a reporter" in stray.stderr
    both = run("scan", "--reporter", "cli", "--reporter", "json:-")
    assert both.returncode == 2 and "only one reporter may write to standard output" in both.stderr


@pytest.mark.parametrize(("mode", "env", "tty", "expected"), [
    ("auto", {}, False, False),
    ("auto", {}, True, True),
    ("auto", {"NO_COLOR": "1"}, True, False),
    ("auto", {"FORCE_COLOR": "1"}, False, True),
    ("auto", {"FORCE_COLOR": "0"}, False, False),
    ("auto", {"NO_COLOR": "1", "FORCE_COLOR": "1"}, True, False),
    ("always", {"NO_COLOR": "1"}, False, True),
    ("never", {"FORCE_COLOR": "1"}, True, False),
    ("auto", {"TERM": "dumb"}, True, False),
])
def test_colour_decision(mode: str, env: dict[str, str], tty: bool, expected: bool) -> None:
    stream = io.StringIO()
    stream.isatty = lambda: tty  # type: ignore[method-assign]
    assert use_color(mode, stream, env) is expected


def _report(evidence: dict[str, Any], severity: str = "blocker") -> dict[str, Any]:
    finding = {"rule_id": "RL002", "requirements": ["LNX-HOSTS-001"], "title": "hosts", "severity": severity,
               "status": "fail", "message": "host name web01 is not mapped", "evidence": evidence,
               "remediation": "Map it.", "remediation_command": None, "rationale": "r", "source": "s.md",
               "waived": False}
    target = {"target": "ssh://root@web01:22", "name": "web01", "roles": ["protected-linux"], "status": "not-ready",
              "score": 0.0, "error": None, "duration_s": 0.5, "counts": {"fail": 1}, "notes": [], "findings": [finding]}
    return {"schema_version": 1, "tool": {"name": "readiness", "version": "t"}, "started_at": "2026-01-01T00:00:00Z",
            "scenarios": [], "rules": 1, "targets": [target], "duration_s": 1.0, "notes": [],
            "summary": {"targets": 1, "ready": 0, "ready_with_warnings": 0, "not_ready": 1, "unknown": 0, "score": 0.0}}


def test_console_wraps_evidence_and_never_cuts_it() -> None:
    long_list = [f"10.0.{i}.{i * 7 % 250}" for i in range(60)]
    long_text = "x" * 150 + " end-of-value"
    text = render(ConsoleReporter, _report({"unmapped": long_list, "note": long_text}), RenderOptions(width=80))
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    assert "..." not in text
    joined = " ".join(line.strip() for line in lines)
    assert all(address in joined for address in long_list) and "end-of-value" in joined
    evidence = [line for line in lines if line.startswith(" " * 12)]
    assert len(evidence) > 3  # wrapped onto indented continuation lines
    assert "\x1b[" not in text
    coloured = render(ConsoleReporter, _report({"a": 1}), RenderOptions(color=True, width=80))
    assert "\x1b[" in coloured


def test_console_colour_flags_end_to_end(tmp_path: Path) -> None:
    facts = make_estate(tmp_path, 2)
    plain = evaluate(facts, "--color", "auto", env={**PLAIN_ENV, "FORCE_COLOR": "1", "NO_COLOR": "1"})
    forced = evaluate(facts, env={**PLAIN_ENV, "FORCE_COLOR": "1"})
    always = evaluate(facts, "--color", "always", env={**PLAIN_ENV, "NO_COLOR": "1"})
    never = evaluate(facts, "--color", "never", env={**PLAIN_ENV, "FORCE_COLOR": "1"})
    assert "\x1b[" not in plain.stdout and "\x1b[" not in never.stdout
    assert "\x1b[" in forced.stdout and "\x1b[" in always.stdout
    assert "Summary:" in plain.stdout


def test_info_failure_is_no_junit_failure() -> None:
    xml = render(JUnitReporter, _report({"a": 1}, severity="info"))
    assert "<failure" not in xml and "<system-out>info: host name web01" in xml
    assert 'failures="1"' in render(JUnitReporter, _report({"a": 1}, severity="warning"))


def test_log_redacts_secrets(tmp_path: Path) -> None:
    secret = "Tr0ub4dor-s3cret"
    redact = RedactingFilter({"READINESS_SSH_PASSWORD": secret}).redact
    assert secret not in redact(f"auth with {secret} for ssh://root:{secret}@h password={secret}")
    assert redact("proxy http://alice:pw123@proxy:3128 token: abc") == "proxy http://***@proxy:3128 token: ***"
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "login %s", (secret,), None)
    RedactingFilter({"READINESS_WINRM_PASSWORD": secret}).filter(record)
    assert secret not in record.getMessage()
    # End to end: a failing SSH login at debug level, with the password in the environment.
    out = tmp_path / "r.json"
    proc = run("scan", "ssh://root@127.0.0.1:1", "-vv", "--connect-timeout", "2", "--reporter", f"json:{out}",
               env={"READINESS_SSH_PASSWORD": secret, "https_proxy": f"http://bob:{secret}@127.0.0.9:3128"})
    assert proc.returncode == 3
    assert "DEBUG" in proc.stderr and "INFO" in proc.stderr and "wrote" in proc.stderr
    assert secret not in proc.stderr + out.read_text()
    quiet = run("scan", "ssh://root@127.0.0.1:1", "--connect-timeout", "2", "--reporter", f"json:{out}")
    assert "DEBUG" not in quiet.stderr and "INFO" not in quiet.stderr


def test_streamed_json_with_baseline_is_valid(tmp_path: Path) -> None:
    facts = make_estate(tmp_path, 25)
    old = tmp_path / "old.json"
    assert evaluate(facts, "--reporter", f"json:{old}").returncode == 1
    new = tmp_path / "new.json"
    proc = evaluate(facts, "--reporter", f"json:{new}", "--baseline", str(old), "--reporter",
                    f"html:{tmp_path / 'r.html'}")
    assert proc.returncode == 1, proc.stderr
    report = json.loads(new.read_text())
    validate_report(report)
    assert len(report["targets"]) == 25 and report["baseline"]["new"] == 0
    assert report["baseline"]["unchanged"] == sum(f["status"] in ("fail", "error") for t in report["targets"]
                                                  for f in t["findings"]) + sum(
        f["status"] in ("fail", "error") for f in (report.get("estate") or {}).get("findings", []))
    assert not list(tmp_path.glob(".*.partial"))
    assert os.path.getsize(tmp_path / "r.html") > 0
