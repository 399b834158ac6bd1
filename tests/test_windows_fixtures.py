"""The Windows fixtures hold documented values, the new facts read right from them, and captures mask.

The fixtures are written, not captured (see fixtures/windows/*.sources.md): these tests check that
each follows the value rules it claims (fixtures/windows/layout.py: disk geometry, 1 MiB partition
alignment, volumes inside partitions, the .NET each version ships, what 2008 R2's TLS can reach), that
the OS versions are not copies of one template, and that capture mode (`readiness facts --raw --mask`)
writes a capture that parses and judges like the original, through the real CLI and the WS-Management
peer of tests/wsman_server.py.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fixtures.windows.layout import CYLINDER, MIB
from readiness.checks.windows.capture import mask_output
from readiness.checks.windows.framing import split_sections
from readiness.checks.windows.parse import parse_probe
from readiness.engine import judge_target
from readiness.facts import TargetFacts, write_facts
from readiness.rulepack import default_rules
from readiness.transports.winrm import PASSWORD_ENV
from tests.wsman_server import WSManConfig, wsman_endpoint

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures" / "windows"
NAMES = sorted(p.stem for p in FIXTURES.glob("*.txt"))
PASSWORD = "Sup3r-Secret!"


def sections(name: str) -> dict[str, Any]:
    return {k: v for k, (ok, v) in split_sections((FIXTURES / f"{name}.txt").read_text()).items() if ok}


def load(name: str) -> tuple[dict[str, Any], dict[str, str]]:
    return parse_probe((FIXTURES / f"{name}.txt").read_text())


# ---------------------------------------------------------------- documented values


@pytest.mark.parametrize("name", NAMES)
def test_disks_partitions_and_volumes_follow_the_documented_layout(name: str) -> None:
    storage = sections(name).get("storage")
    if name == "win2019-wmi-denied":
        assert storage is None  # the section failed on purpose (access denied): nothing to measure
        return
    for disk in storage["disks"]:
        assert disk["size"] % CYLINDER == 0  # Win32_DiskDrive.Size: whole 255 x 63 x 512 cylinders
        exact = (disk["storage"] or {}).get("size") or disk["size"] + CYLINDER
        assert disk["size"] <= exact
        for part in disk["partitions"]:
            assert part["size"] % MIB == 0 and part["offset"] % MIB == 0  # 1 MiB aligned
            assert part["offset"] + part["size"] < exact  # inside the disk
    sizes = {letter: p["size"] for d in storage["disks"] for p in d["partitions"] for letter in p["letters"]}
    for volume in storage["volumes"]:
        if volume["letter"] in sizes:
            assert 0 < volume["capacity"] < sizes[volume["letter"]] and volume["free"] < volume["capacity"]
            assert volume["capacity"] % 4096 == 0


#: OS version -> (the .NET 4 Release DWORD it ships with, or more, for updated machines; .NET 3.5 present)
DOTNET = {"win2012": 378389, "win2016": 394802, "win2019": 461814, "win2022": 528449, "win10": 528372}


@pytest.mark.parametrize(("name", "release"), sorted(DOTNET.items()))
def test_each_version_has_its_own_dotnet_and_no_35_by_default(name: str, release: int) -> None:
    facts, _ = load(name)
    v4 = next(d for d in facts["windows"]["dotnet"] if d["key"] == "v4\\Full")
    assert v4["release"] == release and facts["windows"]["net35_installed"] is False


def test_the_versions_are_not_one_template() -> None:
    def disk_shape(name: str) -> tuple[Any, ...]:
        storage = sections(name)["storage"]
        return tuple((d["size"], tuple(p["size"] for p in d["partitions"])) for d in storage["disks"])

    shapes = {name: disk_shape(name) for name in ("win2012", "win2012r2", "win2016", "win2019", "win2022")}
    assert len(set(shapes.values())) == len(shapes)
    builds = {load(n)[0]["windows"]["build"] for n in ("win2008r2-sp1", "win2012", "win2012r2", "win2016", "win2019",
                                                        "win2022", "win10")}
    assert builds == {7601, 9200, 9600, 14393, 17763, 20348, 19045}
    assert load("win2016")[0]["windows"]["dotnet"][-1]["product"] == "4.6.2"


def test_german_rule_names_are_german_and_groups_still_match() -> None:
    rules = sections("win2012r2-de-DE")["security"]["firewall_port_rules"]
    assert all("eingehend" in r["name"] and "-In)" not in r["name"] for r in rules)
    assert load("win2012r2-de-DE")[0]["windows"]["firewall"]["groups"]["remote_desktop"] is True


def test_client_and_server_core_editions() -> None:
    client, gaps = load("win10")
    assert gaps == {} and client["windows"]["product_type"] == "workstation"
    assert client["windows"]["server_features"] == [] and client["windows"]["edition_id"] == "Professional"
    assert client["windows"]["disks"][0]["bus_type"] == "nvme"
    core, _ = load("win2019-core")
    assert core["windows"]["installation_type"] == "Server Core" and core["windows"]["sku"] == 13
    assert core["windows"]["virtual_platform"] == "hyper-v"


def test_wmi_access_denied_is_a_gap_per_section() -> None:
    facts, gaps = load("win2019-wmi-denied")
    assert gaps["windows.disks"] == "probe section storage failed on the target: Access denied "
    assert gaps["cluster.node"].startswith("probe section cluster failed") and "windows.programs" not in gaps
    assert facts["windows"]["disks"] is None and facts["windows"]["account"]["in_administrators"] is False


# ---------------------------------------------------------------- the new facts (issue 8)


def test_mpio_and_repeated_paths_collapse_to_physical_disks() -> None:
    w = load("win2012r2-hyperv-cluster-nokb")[0]["windows"]
    assert w["disk_count"] == 4  # five Win32_DiskDrive: one LUN seen twice without MPIO
    by_index = {d["index"]: d for d in w["disks"]}
    assert by_index[3]["indexes"] == [3, 4] and by_index[3]["paths"] == 2  # same serial twice
    assert by_index[2]["paths"] == 2 and by_index[2]["size_bytes"] == 2 * 1024**4  # MPIO_DISK_INFO NumberPaths
    assert by_index[2]["size_bytes"] == 2_199_023_255_552 and by_index[2]["size_source"] == "msft_disk"
    assert [d["bus_type"] for d in w["disks"]] == ["raid", "iscsi", "iscsi", "iscsi"]
    assert [d["shared"] for d in w["disks"]] == [False, True, True, True]
    assert w["iscsi_sessions"] == [{"target": "iqn.1992-08.com.netapp:sn.4082367740:vs.3", "connected": True}] * 2
    assert w["nic_teams"] == [{"name": "HV-Team", "members": ["NIC1", "NIC2"], "mode": "switch-independent"}]
    assert w["edition_id"] == "ServerDatacenter"


def test_shared_disks_by_signature_where_msft_disk_is_missing() -> None:
    text = (FIXTURES / "win2012r2-hyperv-cluster-nokb.txt").read_text()
    text = re.sub(r'"storage":\{"size":\d+,"bus_type":9,"clustered":true,"guid":"[^"]*","partition_style":2\}',
                  '"storage":null', text)  # as on 2008 R2: no MSFT_Disk, so the cluster's disk list decides
    text = text.replace('"signature":null', '"signature":1234567', 1)
    disks = parse_probe(text)[0]["windows"]["disks"]
    assert [d["shared"] for d in disks[1:]] == [False, False, False]  # GPT LUNs without their GUIDs: not matched
    text = text.replace('"disk_signature":null,"disk_guid":"{3f5a8c1e', '"disk_signature":1234567,"disk_guid":"{3f5a')
    disks = parse_probe(text)[0]["windows"]["disks"]
    assert [d["shared"] for d in disks] == [False, True, False, False]  # the MBR signature of disk 1 matches


def test_mobility_service_registration_and_configuration_server() -> None:
    mob = load("win2012r2-mobility")[0]["windows"]["mobility_service"]
    assert (mob["installed"], mob["version"], mob["cs_address"], mob["cs_port"], mob["https"], mob["role"],
            mob["configured"]) == (True, "9.55.6765.1", "10.20.1.15", 443, True, "Agent", True)
    assert load("win2012r2")[0]["windows"]["mobility_service"]["installed"] is False
    cs = load("win2016-config-server")[0]["windows"]["config_server"]
    assert cs["installed"] is True and cs["registered"] is True and cs["services"]["tmansvc"] == "Running"
    assert load("win2016")[0]["windows"]["config_server"] == {"installed": False, "services": {}, "registered": None}


# ---------------------------------------------------------------- capture mode


IDENTIFYING = ("contoso", "asr-cs01", "10.20.", "00:50:56", "hv-node", "asr-admin", "6000c29a", "80Bk2", "APP01",
               "3623811015", "3f5a8c1e", "svc-push", "hvclu01")


def verdict_map(facts: dict[str, Any], gaps: dict[str, str], role: str) -> dict[str, str]:
    target = TargetFacts(uri="winrm://x", name="x", scheme="winrm", roles=[role], facts=facts, gaps=gaps)
    return {f.rule_id: f.status for f in judge_target(target, list(default_rules()))}


@pytest.mark.parametrize("name", NAMES)
def test_a_masked_capture_parses_and_judges_like_the_original(name: str) -> None:
    raw = (FIXTURES / f"{name}.txt").read_text()
    masked = mask_output(raw)
    assert masked.isascii()
    leaks = [value for value in IDENTIFYING if value.lower() in masked.lower()]
    assert not leaks, leaks
    facts, gaps = parse_probe(masked)
    original, original_gaps = parse_probe(raw)
    assert set(gaps) == set(original_gaps)
    for role in ("protected-windows", "management-server", "hyperv-host"):
        assert verdict_map(facts, gaps, role) == verdict_map(original, original_gaps, role)


def test_secrets_go_even_unmasked() -> None:
    raw = (FIXTURES / "win2012r2.txt").read_text().replace('"server":""', '"server":"http://svc:P4ss@proxy:8080"')
    assert "P4ss" not in mask_output(raw, identifying=False) and "contoso" in mask_output(raw, identifying=False)


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "readiness.cli", *args], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, **(env or {})}, timeout=120, check=False)


def test_capture_over_winrm_becomes_facts_that_evaluate_judges(tmp_path: Path) -> None:
    output = (FIXTURES / "win2012r2-hyperv-cluster-nokb.txt").read_bytes()
    capture = tmp_path / "capture.txt"
    with wsman_endpoint(WSManConfig(stdout=output, powershell=2), tmp_path / "ep") as ep:
        proc = run_cli("facts", f"winrm://Administrator@127.0.0.1:{ep.port}?transport=http", "--raw", str(capture),
                       "--mask", env={PASSWORD_ENV: PASSWORD})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["targets"][0]["error"] is None
    text = capture.read_text(encoding="ascii")
    assert not [value for value in IDENTIFYING if value.lower() in text.lower()] and PASSWORD not in text
    facts, gaps = parse_probe(text)  # the capture a user sends becomes a fixture: it parses ...
    path, report = tmp_path / "facts.json", tmp_path / "r.json"
    write_facts(path, [TargetFacts(uri="winrm://captured", name="captured", scheme="winrm", roles=["hyperv-host"],
                                   facts=facts, gaps=gaps)])
    judged = run_cli("evaluate", str(path), "--reporter", f"json:{report}")  # ... and is judged
    assert judged.returncode in (0, 1), judged.stderr
    findings = {f["rule_id"]: f["status"] for f in json.loads(report.read_text())["targets"][0]["findings"]}
    assert findings["RH002"] == "fail" and findings["RH001"] == "pass"  # KB2961977 missing, as on the original


def test_output_cut_short_over_winrm_makes_the_target_unknown(tmp_path: Path) -> None:
    output = (FIXTURES / "win2012r2.txt").read_bytes()
    cut = output[:output.index(b"==section software")]
    with wsman_endpoint(WSManConfig(stdout=cut), tmp_path / "ep") as ep:
        proc = run_cli("facts", f"winrm://Administrator@127.0.0.1:{ep.port}?transport=http",
                       env={PASSWORD_ENV: PASSWORD})
    error = json.loads(proc.stdout)["targets"][0]["error"]
    assert proc.returncode == 3 and f"probe output ended early after {len(cut)} bytes" in error


def test_raw_flags_are_checked() -> None:
    assert run_cli("facts", "--mask").returncode == 2
    bad = run_cli("facts", "winrm://a@h1", "winrm://a@h2", "--raw", "/nonexistent/out.txt")
    assert bad.returncode == 2 and "several targets need an existing directory" in bad.stderr
