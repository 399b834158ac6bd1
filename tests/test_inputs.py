"""Every bad input is one line on stderr and exit 2: never a traceback, never "internal error".

The table runs the real command line over bad facts files, rule packs, inventories, option values and
RVTools workbooks.  The facts-file schema is generated from checks/facts.yaml; the shipped copy must match.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from readiness.checks.windows.parse import parse_probe
from readiness.factschema import SCHEMA_PATH, facts_schema, target_problem

REPO = Path(__file__).resolve().parent.parent
INVENTORIES = REPO / "fixtures" / "inventories"
HEADER = {"schema_version": 1, "kind": "readiness-facts"}


def facts_file(path: Path, *targets: dict) -> str:  # type: ignore[type-arg]
    path.write_text(json.dumps({**HEADER, "targets": list(targets)}))
    return str(path)


def target(**facts: object) -> dict:  # type: ignore[type-arg]
    return {"uri": "ssh://web01", "name": "web01", "scheme": "ssh", "roles": ["protected-linux"], "facts": facts}


RULE = ("pack: x\nrules:\n  - id: RZ001\n    requirements: [LNX-OS-001]\n    title: t\n    rationale: r\n"
        "    check: os.major == `6`\n    message: {pass: a, fail: b}\n    remediation: {text: c}\n")


def bad_inputs(tmp: Path) -> list[tuple[list[str], str]]:
    """(arguments, text the one line must hold) for every kind of bad input."""
    (tmp / "latin1.json").write_bytes(b'{"kind": "readiness-facts", "x": "caf\xe9"}')
    (tmp / "latin1.yaml").write_bytes(RULE.replace("title: t", "title: caf\xe9").encode("latin-1"))
    (tmp / "list-rule.yaml").write_text("pack: x\nrules:\n  - [1]\n")
    (tmp / "int-title.yaml").write_text(RULE.replace("title: t", "title: [t]"))
    (tmp / "unknown-fact.yaml").write_text(RULE.replace("os.major", "os.colour"))
    (tmp / "fake.xlsx").write_text("not a zip")
    (tmp / "endpoints.yaml").write_bytes(b"endpoints: [\xff]\n")
    (tmp / "a-dir").mkdir()
    (tmp / "timeout.yaml").write_text("version: 1\nhosts:\n  - {host: a, timeout: 0}\n")
    (tmp / "waivers.yaml").write_text("- {id: RV001, justification: [\n")
    (tmp / "waivers-latin1.yaml").write_bytes(b"- {id: RV001, justification: caf\xe9}\n")
    return [
        (["scan", "--timeout", "-5"], "argument --timeout: must be more than 0 (got -5)"),
        (["scan", "--timeout", "nan"], "argument --timeout: must be more than 0 (got nan)"),
        (["scan", "--fail-under", "200"], "argument --fail-under: must be at least 0 and at most 100 (got 200)"),
        (["evaluate", "x.json", "--fail-under", "-1"], "argument --fail-under: must be at least 0"),
        (["scan", "--workers", "0"], "argument --workers: must be at least 1 and at most 1024 (got 0)"),
        (["scan", "--workers", "2.5"], "argument --workers: invalid int value: '2.5'"),
        (["scan", "--connect-timeout", "0"], "argument --connect-timeout: must be more than 0 (got 0)"),
        (["scan", "--network-timeout", "-1"], "argument --network-timeout: must be more than 0 (got -1)"),
        (["evaluate", "x.json", "--planned-machines", "-3"], "argument --planned-machines: must be at least 0"),
        (["evaluate", facts_file(tmp / "string.json", {**target(), "facts": "oops"})],
         "target #1 is malformed: $.targets[0].facts is a string, expected object"),
        (["evaluate", facts_file(tmp / "type.json", target(storage={"disk_count": "two"}))],
         "$.targets[0].facts.storage.disk_count is a string, expected integer or null"),
        (["evaluate", facts_file(tmp / "bool.json", target(), target(sshd={"running": "yes"}))],
         "target #2 is malformed: $.targets[1].facts.sshd.running is a string, expected boolean or null"),
        (["evaluate", facts_file(tmp / "ns.json", target(colour={}))],
         "$.targets[0].facts: unknown namespace 'colour' (not in the facts contract, checks/facts.yaml)"),
        (["evaluate", facts_file(tmp / "key.json", target(os={"colour": "red"}))],
         "$.targets[0].facts.os: unknown key 'colour'"),
        (["evaluate", facts_file(tmp / "roles.json", {**target(), "roles": "master-target"})],
         "$.targets[0].roles is a string, expected array"),
        (["evaluate", str(tmp / "latin1.json")], "invalid JSON"),
        (["evaluate", str(tmp / "nothing-*.json")], "nothing-*.json matches no file"),
        (["evaluate", str(tmp / "a-dir")], "is a directory, not a facts file"),
        (["evaluate", str(tmp / "fake.xlsx")], "is not a readable .xlsx workbook"),
        (["rules", "check", str(tmp / "latin1.yaml")], f"{tmp / 'latin1.yaml'}:5: rule file is not UTF-8 text"),
        (["rules", "check", str(tmp / "list-rule.yaml")], f"{tmp / 'list-rule.yaml'}:3: rule #1 invalid at rules/0"),
        (["rules", "check", str(tmp / "int-title.yaml")], f"{tmp / 'int-title.yaml'}:5: rule RZ001 invalid at "
                                                          "rules/0/title: ['t'] is not of type 'string'"),
        (["scan", "--rules", str(tmp / "unknown-fact.yaml")], f"{tmp / 'unknown-fact.yaml'}:3: rule RZ001: check "
                                                              "reads 'os.colour'"),
        (["scan", "--endpoints", str(tmp / "endpoints.yaml")], "cannot read endpoints file"),
        (["scan", "-i", str(INVENTORIES / "malformed" / "huge-range.ini")], "names 100,000,000 hosts"),
        (["scan", "-i", str(INVENTORIES / "malformed" / "dir-no-hosts")], "has no hosts file"),
        (["scan", "-i", str(INVENTORIES / "malformed" / "docker.ini")], "ansible_connection 'docker' is not supported"),
        (["scan", "-l", "web", "local://"], "--limit needs an inventory"),
        (["scan", "--waivers", str(tmp / "waivers.yaml")], "cannot read waivers file"),  # a multi-line YAML error
        (["scan", "--waivers", str(tmp / "waivers-latin1.yaml")], "cannot read waivers file"),
        (["scan", "--ca-bundle", str(tmp / "missing.pem")], "--ca-bundle"),
        (["scan", "--ssh-config", str(tmp / "missing")], "--ssh-config"),
        (["scan", "ssh://host?timeout=-5"], "timeout must be more than 0 seconds (got -5)"),
        (["scan", "-i", str(tmp / "timeout.yaml")], f"{tmp / 'timeout.yaml'}:3: host 'a': timeout must be more than 0"),
    ]


def test_every_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    def check(case: tuple[list[str], str]) -> str | None:
        args, needle = case
        proc = subprocess.run([sys.executable, "-m", "readiness.cli", *args], capture_output=True, text=True,
                              timeout=120, cwd=tmp_path)
        lines = proc.stderr.splitlines()
        ok = (proc.returncode == 2 and proc.stdout == "" and len(lines) == 1 and needle in lines[0]
              and "internal error" not in proc.stderr and "Traceback" not in proc.stderr)
        return None if ok else f"{args}: exit {proc.returncode}, stderr {proc.stderr!r}"

    with ThreadPoolExecutor(max_workers=4) as pool:  # separate processes: the real command, four at a time
        failures = [f for f in pool.map(check, bad_inputs(tmp_path)) if f]
    assert not failures, "\n".join(failures)


def test_shipped_facts_schema_is_the_generated_one() -> None:
    """`python -m readiness.factschema` rewrites it after checks/facts.yaml changes."""
    assert json.loads(SCHEMA_PATH.read_text()) == facts_schema()


@pytest.mark.parametrize("name", sorted(p.stem for p in (REPO / "fixtures" / "windows").glob("*.txt")))
def test_windows_collector_output_passes_the_schema(name: str) -> None:
    facts, gaps = parse_probe((REPO / "fixtures" / "windows" / f"{name}.txt").read_text(encoding="ascii"))
    entry = {"uri": "winrm://x", "name": name, "scheme": "winrm", "facts": facts, "gaps": gaps}
    assert target_problem(entry, 0) is None


def test_fail_under_gates_on_the_score(tmp_path: Path) -> None:
    """A warning fails (score under 100, no blocker fails): --fail-under decides, up to 100 inclusive."""
    from readiness.cli import main

    vm = {"name": "web_01", "guest_id": "rhel6_64Guest"}  # VM-NAME-001 (a warning) fails, VM-OS-001 passes
    path = facts_file(tmp_path / "f.json", {"uri": "vcenter://v/vm/web_01", "name": "web_01", "scheme": "vcenter",
                                            "roles": ["vmware-vm"], "facts": {"vm": vm}})
    out = f"json:{tmp_path / 'r.json'}"
    base = ["evaluate", path, "--reporter", out, "--allow-unjudged"]
    assert main(base) == 0
    score = json.loads((tmp_path / "r.json").read_text())["targets"][0]["score"]
    assert score is not None and score < 100
    assert main([*base, "--fail-under", str(score)]) == 0
    assert main([*base, "--fail-under", "100"]) == 1
