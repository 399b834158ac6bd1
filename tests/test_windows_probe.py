"""The Windows probe, its parser, role detection and the Windows / Hyper-V / VMM rules.

PowerShell is not available here, so probe.ps1 is never executed in these tests: its syntax and its
PowerShell 2.0 / .NET 3.5 allow-list are checked on a real grammar in tests/test_ps_grammar.py,
and the collectors are tested on fixtures/windows/*.txt, which are written (not captured on real machines)
in the exact format probe.ps1 prints, each with a <name>.sources.md (see fixtures/windows/compose.py).
"""

from __future__ import annotations

import base64
import json
import re
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from readiness.checks.windows.collector import WindowsProbeCollector, build_script, one_line, probe_input, probe_script
from readiness.checks.windows.parse import FEEDS, parse_probe, split_sections, winhttp_proxy
from readiness.checks.windows.roles import windows_roles
from readiness.engine import judge_target
from readiness.facts import TargetFacts
from readiness.rulepack import default_rules, known_facts
from readiness.settings import Endpoint, NetworkSettings, Plan, ScanSettings

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures" / "windows"
NAMES = sorted(p.stem for p in FIXTURES.glob("*.txt"))


def load(name: str) -> tuple[dict[str, Any], dict[str, str]]:
    return parse_probe((FIXTURES / f"{name}.txt").read_text(encoding="ascii"))


# ---------------------------------------------------------------- the probe's source


def test_probe_sections_are_the_ones_the_parser_knows() -> None:
    names = re.findall(r"Invoke-Section '(\w+)'", probe_script())
    assert names == list(FEEDS), "probe.ps1 and parse.FEEDS must list the same sections in the same order"


def test_script_input_is_base64_data_never_code() -> None:
    hostile = "https://x.example/'; Remove-Item C:\\ -Recurse; '\n$(Stop-Computer)\ttab"
    settings = ScanSettings(management_server="ms01'; exit #", network=NetworkSettings(
        endpoints=[Endpoint(id="evil", url=hostile, requirement="MS-URL-001", pattern="*'\"")], proxy=""))
    script = build_script(settings, network=True)
    first, _, rest = script.partition("\r\n")
    assert rest == probe_script()
    match = re.fullmatch(r"\$ReadinessInput = '([A-Za-z0-9+/=]+)'", first)
    assert match, first
    lines = base64.b64decode(match.group(1)).decode().splitlines()
    endpoint = next(line.split("\t") for line in lines if line.startswith("endpoint\t"))
    assert endpoint == ["endpoint", "evil", "MS-URL-001", "*'\"", hostile.replace("\n", " ").replace("\t", " ")]
    assert "proxy\t" in lines  # --no-proxy reaches the probe as an empty proxy
    assert "Remove-Item" not in script and "Stop-Computer" not in script
    assert "network\t1" in probe_input(settings, True) and "network\t0" in probe_input(settings, False)


def test_local_runs_get_a_one_line_loader_of_the_same_script() -> None:
    script = build_script(ScanSettings(), network=False)
    line = one_line(script)
    assert line.count("\n") == 2 and line.endswith("\r\n\r\n")
    encoded = re.search(r"FromBase64String\('([A-Za-z0-9+/=]+)'\)", line).group(1)  # type: ignore[union-attr]
    assert base64.b64decode(encoded).decode("utf-8") == script


# ---------------------------------------------------------------- the parser on captured outputs


def test_fixtures_are_what_compose_writes() -> None:
    """The fixtures are generated from compose.py's machine descriptions; they must not drift apart."""
    files = sorted(FIXTURES.glob("*.txt")) + sorted(FIXTURES.glob("*.sources.md"))
    before = {path.name: path.read_bytes() for path in files}
    subprocess.run([sys.executable, str(FIXTURES / "compose.py")], check=True, timeout=60)
    assert before == {path.name: path.read_bytes() for path in files}
    assert {p.name for p in FIXTURES.glob("*.txt")} == set(before) - {p.name for p in FIXTURES.glob("*.md")}
    assert all((FIXTURES / f"{name}.sources.md").is_file() for name in NAMES)  # every fixture says its sources


@pytest.mark.parametrize("name", NAMES)
def test_every_fixture_parses_into_contract_facts_without_gaps(name: str) -> None:
    text = (FIXTURES / f"{name}.txt").read_bytes()
    assert text.isascii()  # the probe escapes everything else: no code page can mangle it
    facts, gaps = load(name)
    assert gaps == {} or name in FAILING_SECTIONS
    assert {path.split(".")[0] for path in gaps} <= {"windows", "cluster"}
    contract = known_facts()
    for namespace, values in facts.items():
        assert namespace in contract, namespace
        unknown = set(values) - contract[namespace] - {"duration_s", "transport"}
        assert not unknown, f"{namespace}: {unknown} are not in checks/facts.yaml"
    assert facts["os"]["family"] == "windows"
    json.dumps(facts)  # plain JSON


#: Fixtures whose sections fail on purpose (WMI access denied), and the sections that do.
FAILING_SECTIONS = {"win2019-wmi-denied": ("storage", "services", "cluster")}


def test_2008r2_sp1_powershell_2() -> None:
    facts, _ = load("win2008r2-sp1")
    w = facts["windows"]
    assert facts["os"]["version"] == "6.1" and facts["os"]["bits"] == 64 and w["service_pack"] == 1
    assert w["ps_version"] == "2.0" and w["net35_installed"] is True
    assert facts["boot"]["firmware"] == "bios" and w["os_disk"]["dynamic"] is False
    assert w["account"] == {"name": "APP07\\Administrator", "local": True, "elevated": True, "in_administrators": True,
                            "groups_source": "whoami"}
    assert w["tls_protocols"] == "Tls" and all(e["http"]["tls_error"] for e in facts["connectivity"]["endpoints"])
    assert w["dotnet"][-1] == {"key": "v4\\Full", "installed": True, "version": "4.5.51209", "release": 379893,
                               "product": "4.5.2"}
    assert w["nic_teams"] == [] and w["disks"][0]["size_source"] == "geometry"  # 2008 R2: no MSFT_* classes
    assert w["firewall"]["groups"] == {"file_and_printer_sharing": False, "wmi": False, "remote_desktop": False}
    assert w["rdp_enabled"] is False and w["local_account_token_filter_policy"] is None
    assert facts["lan"] == {"management_server": "asr-cs01.contoso.local", "ports": [
        {"ok": True, "ms": 0.6, "error": None, "host": "asr-cs01.contoso.local", "port": 443},
        {"ok": True, "ms": 0.6, "error": None, "host": "asr-cs01.contoso.local", "port": 9443}], "vcenter": None}


def test_dynamic_os_disk_is_found_by_its_boot_partition() -> None:
    facts, _ = load("win2008r2-dynamic-os-disk")
    assert facts["windows"]["os_disk"]["dynamic"] is True
    assert facts["windows"]["os_disk"]["found_by"] == "boot-partition"


def test_uefi_gpt_server() -> None:
    facts, _ = load("win2016-uefi")
    assert facts["boot"]["firmware"] == "uefi"
    assert facts["windows"]["os_disk"]["partition_style"] == "gpt" and facts["windows"]["os_disk"]["letters"] == ["C:"]
    assert {v["file_system"] for v in facts["windows"]["volumes"]} == {"NTFS", "FAT32"}


def test_domain_controller_dhcp_and_german_locale() -> None:
    assert load("win2012r2-dc")[0]["windows"]["domain_controller"] is True
    assert load("win2012r2")[0]["windows"]["domain_controller"] is False
    dhcp, _ = load("win2012r2-dhcp")
    assert dhcp["network"]["dhcp_interfaces"] == ["vmxnet3 Ethernet Adapter"]
    assert dhcp["host"]["hostname"] == "ASR-CONFIGSRV-PRD01" and dhcp["windows"]["netbios_name"] == "ASR-CONFIGSRV-P"
    german, _ = load("win2012r2-de-DE")
    assert german["host"]["locale"] == "de-DE" and german["windows"]["locale"]["ui"] == "de-DE"
    assert german["os"]["bits"] == 64  # OSArchitecture is "64-Bit" in German
    assert "Zwischenspeicher für ASR" in {v["label"] for v in german["windows"]["volumes"]}


def test_hyperv_cluster_node_facts() -> None:
    facts, _ = load("win2012r2-hyperv-cluster-nokb")
    assert facts["hyperv"]["role_installed"] is True and facts["hyperv"]["vm_count"] == 3
    assert facts["hyperv"]["firewall_ports"] == [
        {"port": 8083, "open": True, "rules": ["Hyper-V Replica HTTP Listener (TCP-In)"]},
        {"port": 8084, "open": False, "rules": []}]
    assert facts["cluster"] == {"node": True, "name": "HVCLU01", "nodes": ["HV-NODE1", "HV-NODE2"], "shared_disks": 3,
                                "shared_volumes": ["Cluster Disk 2", "Cluster Disk 3"], "static_ip": True,
                                "replica_broker": True}
    assert "KB2961977" not in facts["windows"]["hotfixes"] and facts["windows"]["virtual_platform"] is None


def test_listeners_and_connectivity_have_the_shared_shape() -> None:
    facts, _ = load("win2012r2")
    assert {"address": "0.0.0.0", "port": 3389} in facts["network"]["listening_tcp"]
    assert {"address": "0.0.0.0", "port": 5985, "pid": 4, "process": "System"} in facts["windows"]["listeners"]
    endpoint = facts["connectivity"]["endpoints"][0]
    assert set(endpoint) == {"id", "requirement", "url", "pattern", "host", "port", "proxy", "proxy_source", "dns",
                             "tcp", "tls", "http", "reachable"}
    assert set(endpoint["http"]) == {"status", "ms", "error", "date", "epoch", "tls_error"}
    assert facts["connectivity"]["clock"]["skew_s"] == 0.0 and facts["connectivity"]["proxy_source"] == "none"


def test_a_failed_section_becomes_gaps_and_spares_the_rest() -> None:
    text = (FIXTURES / "win2012r2.txt").read_bytes().decode("ascii")
    broken = re.sub(r"==section storage ok\r\n[^\r]*", '==section storage error\r\n"Access denied "', text)
    facts, gaps = parse_probe(broken)
    assert gaps["windows.os_disk"].startswith("probe section storage failed on the target: Access denied")
    assert facts["windows"]["disks"] is None and facts["os"]["version"] == "6.3"


@pytest.mark.parametrize(("text", "error"), [
    ("'powershell.exe' is not recognized as an internal or external command", "no probe header"),
    ("==readiness-windows-probe 2\r\n==section probe ok\r\n{\"version\":1}\r\n", "ended early after 64 bytes"),
    ("==readiness-windows-probe 2\r\n==section probe ok\r\n", "ended early after 49 bytes"),  # unclosed
    ("==readiness-windows-probe 2\r\n==section probe ok\r\n{\"vers", "ended early"),  # cut mid-line
    ("==readiness-windows-probe 2\r\n==section probe ok\r\n{\"version\":\r\n==end 1\r\n", "not valid JSON"),
    ("==readiness-windows-probe 2\r\nWARNING: something\r\n==end 0\r\n", "unexpected line"),
    ("==readiness-windows-probe 2\r\n==section probe ok\r\n{}\r\n==end 2\r\n", "trailer counts 2"),
    ("==readiness-windows-probe 1\r\n==end\r\n", "format version differs"),
])
def test_garbage_is_refused(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        split_sections(text)


def test_winhttp_proxy_blob() -> None:
    proxy, bypass = b"proxy.contoso.local:8080", b"<local>"
    blob = struct.pack("<IIII", 0x28, 7, 3, len(proxy)) + proxy + struct.pack("<I", len(bypass)) + bypass
    assert winhttp_proxy(base64.b64encode(blob).decode()) == {"proxy": "proxy.contoso.local:8080",
                                                              "bypass": "<local>", "source": "registry"}
    assert winhttp_proxy("GAAAAAAAAAABAAAAAAAAAAAAAAA=")["proxy"] is None  # netsh winhttp reset proxy
    assert winhttp_proxy(None)["source"] == "default"


# ---------------------------------------------------------------- roles


@pytest.mark.parametrize(("name", "local", "roles"), [
    ("win2012r2", True, ["management-server"]),
    ("win2012r2", False, ["protected-windows"]),
    ("win2012r2-dc", True, ["management-server"]),  # MS-DC-001 then says why it cannot be one
    ("win2012r2-hyperv-cluster-nokb", False, ["hyperv-host"]),
    ("win2012r2-vmm", True, ["vmm-server"]),
    ("win2016-config-server", False, ["management-server"]),  # a configuration server, scanned over WinRM
    ("win10", True, ["protected-windows"]),  # a client OS is never the management server
])
def test_role_detection(name: str, local: bool, roles: list[str]) -> None:
    assert windows_roles(load(name)[0], local=local) == roles


def test_collector_declares_every_namespace_it_fills() -> None:
    facts, _ = load("win2012r2")
    assert set(facts) <= set(WindowsProbeCollector.namespaces)


# ---------------------------------------------------------------- rules on the fixtures


def verdicts(name: str, roles: list[str], plan: Plan | None = None, management_server: str | None = None
             ) -> dict[str, str]:
    facts, gaps = load(name)
    target = TargetFacts(uri=f"winrm://{name}", name=name, scheme="winrm", roles=roles, facts=facts, gaps=gaps)
    findings = judge_target(target, list(default_rules()), management_server=management_server,
                            plan=(plan or Plan()).as_facts())
    return {f.rule_id: f.status for f in findings}


#: fixture -> role -> rule -> expected verdict; each line is a requirement the fixture exists to show.
EXPECTED: dict[str, dict[str, dict[str, str]]] = {
    "win2012r2": {"management-server": {"RM201": "pass", "RM202": "pass", "RM203": "pass", "RM204": "pass",
                                        "RM205": "pass", "RM206": "pass", "RM207": "pass", "RM213": "pass",
                                        "RM214": "pass", "RN001": "pass", "RN002": "pass", "RN007": "pass",
                                        "RN008": "pass"}},
    "win2008r2-sp1": {"protected-windows": {"RW001": "pass", "RW004": "pass", "RW005": "fail", "RW006": "fail",
                                            "RW007": "pass", "RW008": "fail", "RW009": "fail", "RW010": "pass",
                                            "RN010": "pass"},
                      "management-server": {"RM201": "fail", "RM206": "fail", "RM207": "fail", "RM213": "fail"}},
    "win2008r2-dynamic-os-disk": {"protected-windows": {"RW003": "fail", "RW001": "pass"}},
    "win2012": {"protected-windows": {"RW001": "pass", "RW003": "pass", "RW004": "not-applicable",
                                      "RW005": "not-applicable", "RW006": "pass", "RW008": "pass"}},
    "win2016": {"protected-windows": {"RW001": "fail"}},  # the seeds' list ends at 2012 R2
    "win2016-uefi": {"protected-windows": {"RW002": "pass", "RW003": "pass"}},
    "win2012r2-dc": {"management-server": {"RM202": "fail"}},
    "win2012r2-dhcp": {"management-server": {"RM203": "fail", "RM204": "fail", "RM202": "pass"}},
    "win2012r2-de-DE": {"management-server": {"RM205": "fail", "RM201": "pass"}},
    "win2012r2-hyperv-cluster-nokb": {"hyperv-host": {"RH001": "pass", "RH002": "fail", "RH003": "not-applicable",
                                                      "RH004": "pass", "RH005": "pass", "RH006": "pass",
                                                      "RH007": "pass"}},
    "win2012r2-vmm": {"vmm-server": {"RY001": "pass", "RY002": "fail", "RY003": "not-applicable", "RH005": "pass"}},
}


@pytest.mark.parametrize(("name", "role"), [(n, r) for n, roles in EXPECTED.items() for r in roles])
def test_rules_judge_the_fixtures(name: str, role: str) -> None:
    got = verdicts(name, [role], management_server="asr-cs01.contoso.local")
    expected = EXPECTED[name][role]
    assert {rule: got.get(rule) for rule in expected} == expected


def test_sizing_follows_the_plan() -> None:
    # 8 vCPU / 16 GB is the smallest row; 120 machines need 12 vCPU and 18 GB; 250 need more than one server
    assert verdicts("win2012r2", ["management-server"])["RM209"] == "not-applicable"
    planned = verdicts("win2012r2", ["management-server"], Plan(planned_machines=120, cache_drive="E:"))
    assert (planned["RM206"], planned["RM207"], planned["RM208"], planned["RM209"]) == ("fail", "fail", "pass", "pass")
    change = verdicts("win2012r2", ["management-server"], Plan(planned_machines=20, daily_change_gb=1500))
    assert change["RM206"] == "fail"  # 1.5 TB a day is the 16 vCPU row whatever the machine count
    assert verdicts("win2012r2", ["management-server"], Plan(planned_machines=250))["RM209"] == "fail"
    # the cache: C: has 61 GB free, E: 688 GB
    assert verdicts("win2012r2", ["management-server"])["RM212"] == "fail"
    assert verdicts("win2012r2", ["management-server"], Plan(cache_drive="E:"))["RM212"] == "pass"
    # FB-CS-002 only when machines keep their addresses; the Hyper-V node has two adapters, the VM one
    assert verdicts("win2012r2", ["management-server"])["RM216"] == "not-applicable"
    assert verdicts("win2012r2", ["management-server"], Plan(keep_ip_on_failover=True))["RM216"] == "fail"
    assert verdicts("win2012r2-hyperv-cluster-nokb", ["management-server"],
                    Plan(keep_ip_on_failover=True))["RM216"] == "pass"


def test_windows_retention_volume() -> None:
    assert verdicts("win2012r2", ["master-target"])["RM220"] == "fail"  # no R:
    assert verdicts("win2012r2", ["master-target"], Plan(retention_drive="E:"))["RM220"] == "pass"
    assert verdicts("win2012r2", ["master-target"], Plan(retention_drive="C:"))["RM220"] == "fail"  # boot + cache
    assert verdicts("win2016-uefi", ["master-target"], Plan(retention_drive="C:", cache_drive="D:"))["RM220"] == "fail"


def test_linux_rules_do_not_apply_to_a_windows_master_target_but_gaps_still_count() -> None:
    """A rule whose applies-when is false needs none of its other facts; a *failed* fact is still an error."""
    got = verdicts("win2012r2", ["master-target"])
    assert got["RM001"] == got["RM003"] == got["RM007"] == "not-applicable"  # Linux master target rules
    facts, gaps = load("win2008r2-sp1")
    gaps["windows.account"] = "probe section probe failed on the target: Access denied"
    facts["windows"]["account"] = None
    target = TargetFacts(uri="winrm://x", name="x", scheme="winrm", roles=["protected-windows"], facts=facts,
                         gaps=gaps)
    finding = next(f for f in judge_target(target, list(default_rules())) if f.rule_id == "RW005")
    assert finding.status == "error" and "Access denied" in finding.message


def test_evaluate_takes_the_plan_flags_and_refuses_bad_ones(tmp_path: Path) -> None:
    facts, gaps = load("win2012r2")
    doc = {"schema_version": 1, "kind": "readiness-facts", "tool": {"name": "readiness", "version": "0"},
           "targets": [TargetFacts(uri="winrm://a", name="a", scheme="winrm", facts=facts, gaps=gaps).to_json()]}
    path = tmp_path / "facts.json"
    path.write_text(json.dumps(doc))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "readiness.cli", "evaluate", str(path), "--role",
                               "management-server", *args], capture_output=True, text=True, cwd=REPO, timeout=60,
                              check=False)

    out = tmp_path / "r.json"
    assert run("--cache-drive", "E:", "--planned-machines", "120", "--reporter", f"json:{out}").returncode == 0
    findings = {f["rule_id"]: f for f in json.loads(out.read_text())["targets"][0]["findings"]}
    assert findings["RM206"]["status"] == "fail" and "needs 12" in findings["RM206"]["message"]
    bad = run("--cache-drive", "E")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "drive letter" in bad.stderr
