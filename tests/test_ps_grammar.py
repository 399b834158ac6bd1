"""PowerShell that runs on Windows Server 2008 R2 (PowerShell 2.0, .NET 3.5), checked with a real grammar.

No PowerShell runs here.  tests/ps_parse.js parses with tree-sitter-powershell (installed by tests/run.sh
from tests/package.json) and hands the syntax tree to tests/ps_allowlist.py, which allows only what
PowerShell 2.0 / .NET 3.5 has.  Checked: the probe as the collector sends it (with its input line), the
WinRM bootstrap, the local one-line loader; and every broken sample in tests/ps_samples must fail, at its
line, so the check is seen to bite.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from readiness.checks.windows.collector import build_script, one_line
from readiness.settings import ScanSettings
from readiness.transports.winrm import BOOTSTRAP
from tests.ps_allowlist import Violation, violations, walk

TESTS = Path(__file__).resolve().parent
SAMPLES = sorted((TESTS / "ps_samples").glob("*.ps1"))
PARSER = TESTS / "ps_parse.js"


@pytest.fixture(scope="module")
def parsed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Every script parsed in one Node run: {name: {"errors": [...], "tree": {...}}}."""
    node = shutil.which("node")
    assert node, "Node.js is missing: tests/run.sh installs it"
    assert (TESTS / "node_modules" / "tree-sitter-powershell").is_dir(), \
        "tree-sitter-powershell is missing: run tests/run.sh (npm ci --prefix tests)"
    work = tmp_path_factory.mktemp("ps")
    probe = build_script(ScanSettings(), network=True)
    scripts = {"probe": probe, "bootstrap": BOOTSTRAP,
               "local-loader": one_line(build_script(ScanSettings(), network=False)),
               "probe-plus-ps3": probe.rstrip() + "\r\n$ReadinessSeen = @($Cfg.Keys) | ConvertTo-Json\r\n"}
    paths = {name: work / f"{name}.ps1" for name in scripts}
    for name, source in scripts.items():
        paths[name].write_text(source, encoding="utf-8")
    paths.update({f"sample:{p.stem}": p for p in SAMPLES})
    names = list(paths)
    proc = subprocess.run([node, str(PARSER), *(str(paths[n]) for n in names)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return dict(zip(names, json.loads(proc.stdout), strict=True))


def problems(result: dict[str, Any]) -> list[str]:
    """Syntax errors (ERROR / MISSING nodes) and allow-list violations, one line each."""
    errors = [str(Violation(e["line"], f"syntax: {e['kind']} near {e['text']!r}")) for e in result["errors"]]
    return errors + [str(v) for v in violations(result["tree"])]


@pytest.mark.parametrize("name", ["probe", "bootstrap", "local-loader"])
def test_what_we_send_to_windows_parses_and_is_powershell_2(parsed: dict[str, dict[str, Any]], name: str) -> None:
    assert problems(parsed[name]) == []


def test_one_later_construct_in_the_probe_fails_at_its_line(parsed: dict[str, dict[str, Any]]) -> None:
    last = len(build_script(ScanSettings(), network=True).rstrip().splitlines()) + 1
    assert problems(parsed["probe-plus-ps3"]) == [
        f"line {last}: command ConvertTo-Json is not on the PowerShell 2.0 allow-list"]


def test_the_parse_is_a_real_one(parsed: dict[str, dict[str, Any]]) -> None:
    """A grammar that gave up would also report nothing: the probe's functions and sections must be in the tree."""
    nodes = list(walk(parsed["probe"]["tree"]))
    functions = {n["k"][1]["x"] for n in nodes if n["t"] == "function_statement"}
    assert {"Get-Json", "Get-JsonString", "Invoke-Section", "Try-Get", "Get-Wmi"} <= functions
    sections = [n for n in nodes if n["t"] == "command" and n["k"][0].get("x") == "Invoke-Section"]
    assert len(sections) >= 10


def test_the_bootstrap_reads_stdin_through_input(parsed: dict[str, dict[str, Any]]) -> None:
    variables = {n["x"].lower() for n in walk(parsed["bootstrap"]["tree"]) if n["t"] == "variable"}
    assert "$input" in variables  # the only stdin a PowerShell 2.0 host gives the command
    assert "[Console]::In" not in BOOTSTRAP


@pytest.mark.parametrize("sample", SAMPLES, ids=[p.stem for p in SAMPLES])
def test_each_broken_sample_fails_at_its_line(parsed: dict[str, dict[str, Any]], sample: Path) -> None:
    """Each sample is valid PowerShell 2.0 but for one construct; its first line says where and what."""
    header = re.fullmatch(r"# expect (\d+): (.+)", sample.read_text().splitlines()[0])
    assert header, f"{sample.name}: first line must be '# expect LINE: message'"
    line, needle = int(header.group(1)), header.group(2)
    found = problems(parsed[f"sample:{sample.stem}"])
    assert found, f"{sample.name}: the check let it through"
    assert all(f.startswith(f"line {line}: ") for f in found), found
    assert any(needle in f for f in found), found


def test_there_is_a_sample_for_every_banned_construct() -> None:
    assert {p.stem for p in SAMPLES} >= {
        "ordered", "pscustomobject", "in_operator", "notin_operator", "shl_operator", "shr_operator", "new_method",
        "convertto_json", "get_ciminstance", "member_enumeration", "psitem", "tls12", "console_in", "syntax_error"}
