"""Windows, Hyper-V and VMM rules on the boundaries the seeds set, judged on facts built from a fixture.

Each case starts from the parsed `win2012r2` fixture and changes only the facts the case is about, so a
verdict can only come from the rule under test.  Seed lines: V = vmware-physical-to-azure.md,
H = hyperv-vmm-to-secondary-site.md, E = windows-server-essentials-integration.md,
R = failback-reprotect-prerequisites.md.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from readiness.checks.windows.parse import parse_probe
from readiness.engine import judge_target
from readiness.facts import TargetFacts
from readiness.rulepack import default_rules
from readiness.settings import Plan

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "windows" / "win2012r2.txt"
GIB = 1024**3
LIMIT = 1023 * GIB


@cache
def _base() -> tuple[dict[str, Any], dict[str, str]]:
    return parse_probe(FIXTURE.read_text(encoding="ascii"))


def disk(index: int, size_bytes: int, **extra: Any) -> dict[str, Any]:
    return {"index": index, "model": "LUN", "size_bytes": size_bytes, "size_gb": round(size_bytes / GIB, 1),
            "partition_style": "gpt", "dynamic": False, "letters": [], "boot_partition": False,
            "partition_types": [], "paths": 1, "bus_type": "scsi", "shared": False, **extra}


def facts_with(change: Callable[[dict[str, Any]], None]) -> tuple[dict[str, Any], dict[str, str]]:
    facts, gaps = copy.deepcopy(_base())
    windows = facts["windows"]
    windows.setdefault("disks", [])
    for entry in windows["disks"]:
        entry.setdefault("size_bytes", int(entry["size_gb"] * GIB))
        entry.setdefault("paths", 1)
        entry.setdefault("shared", False)
    windows.setdefault("disk_count", len(windows["disks"]))
    windows.setdefault("iscsi_sessions", [])
    windows.setdefault("nic_teams", [])
    windows.setdefault("edition_id", "ServerStandard")
    windows.setdefault("config_server", {"installed": False, "services": {}, "registered": None})
    change(facts)
    return facts, gaps


def verdict(rule_id: str, roles: list[str], change: Callable[[dict[str, Any]], None] = lambda f: None,
            plan: Plan | None = None, management_server: str | None = None) -> tuple[str, str]:
    facts, gaps = facts_with(change)
    target = TargetFacts(uri="winrm://w", name="w", scheme="winrm", roles=roles, facts=facts, gaps=gaps)
    findings = judge_target(target, list(default_rules()), management_server=management_server,
                            plan=(plan or Plan()).as_facts())
    finding = next(f for f in findings if f.rule_id == rule_id)
    return finding.status, finding.message


def set_disks(*disks: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    def change(facts: dict[str, Any]) -> None:
        facts["windows"]["disks"] = list(disks)
        facts["windows"]["disk_count"] = len(disks)
    return change


PROTECTED = ["protected-windows"]


# ---------------------------------------------------------------- V:182, machine-level limits from inside Windows


def test_physical_uefi_2tb_badly_named_server_is_not_ready() -> None:
    def physical(facts: dict[str, Any]) -> None:
        facts["boot"]["firmware"] = "uefi"
        facts["host"]["hostname"] = "web_server_01"
        facts["windows"]["virtual_platform"] = None
        set_disks(disk(0, 2048 * GIB))(facts)
    assert verdict("RW011", PROTECTED, physical)[0] == "fail"
    assert verdict("RW012", PROTECTED, physical)[0] == "fail"
    assert verdict("RW014", PROTECTED, physical)[0] == "fail"


@pytest.mark.parametrize(("size", "expected"), [(LIMIT, "pass"), (LIMIT + 1, "fail"),
                                                (LIMIT + 50 * 1024**2, "fail"), (LIMIT - 1, "pass")])
def test_disk_size_is_compared_in_bytes(size: int, expected: str) -> None:
    status, message = verdict("RW012", PROTECTED, set_disks(disk(0, 100 * GIB), disk(1, size)))
    assert status == expected, message
    if expected == "fail":
        assert str(size) in message


@pytest.mark.parametrize(("count", "expected"), [(64, "pass"), (65, "fail")])
def test_disk_count_boundary_counts_disks_not_paths(count: int, expected: str) -> None:
    disks = [disk(i, 10 * GIB, paths=4) for i in range(count)]
    status, message = verdict("RW013", PROTECTED, set_disks(*disks))
    assert status == expected, message
    if expected == "pass":
        assert "MPIO" in message


def test_shared_disks_and_cluster_disk_resources_fail() -> None:
    assert verdict("RW015", PROTECTED)[0] == "pass"
    assert verdict("RW015", PROTECTED, set_disks(disk(0, GIB), disk(1, GIB, shared=True)))[0] == "fail"

    def cluster_node(facts: dict[str, Any]) -> None:
        facts["cluster"].update(node=True, name="sqlclu", shared_disks=2)
    status, message = verdict("RW015", PROTECTED, cluster_node)
    assert status == "fail" and "sqlclu" in message


def test_nic_teams_and_iscsi_are_reported() -> None:
    def team(facts: dict[str, Any]) -> None:
        facts["windows"]["nic_teams"] = [{"name": "Team1", "members": ["Ethernet0", "Ethernet1"], "mode": "Lacp"}]
        facts["windows"]["iscsi_sessions"] = [{"target": "iqn.1991-05.com.microsoft:san-target", "connected": True}]
    status, message = verdict("RW016", PROTECTED, team)
    assert status == "fail" and "Team1" in message
    status, message = verdict("RW017", PROTECTED, team)
    assert status == "fail" and "iqn.1991-05.com.microsoft:san-target" in message
    assert verdict("RW016", PROTECTED)[0] == "pass"
    assert verdict("RW017", PROTECTED)[0] == "pass"


@pytest.mark.parametrize(("address", "port", "https", "server", "expected"), [
    ("10.0.0.9", 443, True, "10.0.0.9", "pass"),
    ("CS01.contoso.local", 443, True, "cs01.contoso.local", "pass"),
    ("10.0.0.4", 443, True, "10.0.0.9", "fail"),   # registered to an old configuration server
    ("10.0.0.9", 9443, True, "10.0.0.9", "fail"),
    ("10.0.0.9", 443, False, "10.0.0.9", "fail"),
    ("10.0.0.4", 443, True, None, "pass"),          # nothing to compare the address with
])
def test_mobility_service_registration(address: str, port: int, https: bool, server: str | None,
                                       expected: str) -> None:
    def agent(facts: dict[str, Any]) -> None:
        facts["windows"]["mobility_service"] = {"installed": True, "name": "Mobility Service", "version": "9.3.0.0",
                                                "cs_address": address, "cs_port": port, "https": https}
    assert verdict("RW018", PROTECTED, agent, management_server=server)[0] == expected
    assert verdict("RW018", PROTECTED, management_server=server)[0] == "not-applicable"


# ---------------------------------------------------------------- Hyper-V, Essentials, VMM


def hyperv_host(version: str, build: int, caption: str, edition: str = "ServerStandard",
                listeners: list[dict[str, Any]] | None = None) -> Callable[[dict[str, Any]], None]:
    def change(facts: dict[str, Any]) -> None:
        facts["os"]["version"] = version
        facts["windows"].update(build=build, caption=caption, edition_id=edition, sku=7)
        facts["hyperv"].update(role_installed=True, vmms_state="Running", vm_count=3)
        if listeners is not None:
            facts["windows"]["listeners"] = listeners
    return change


def test_replica_ports_closed_before_setup_are_not_a_blocker() -> None:
    # H:164: Site Recovery opens 8083/8084 itself; the fixture has neither open in the firewall
    status, message = verdict("RH004", ["hyperv-host"], hyperv_host("6.3", 9600, "Windows Server 2012 R2"))
    assert status == "pass", message
    taken = [{"address": "0.0.0.0", "port": 8083, "pid": 2210, "process": "tomcat9"}]
    status, message = verdict("RH004", ["hyperv-host"], hyperv_host("6.3", 9600, "Windows Server 2012 R2",
                                                                     listeners=taken))
    assert status == "fail" and "tomcat9" in message
    ours = [{"address": "0.0.0.0", "port": 8084, "pid": 4, "process": "System"}]
    assert verdict("RH004", ["hyperv-host"], hyperv_host("6.3", 9600, "Windows Server 2012 R2",
                                                         listeners=ours))[0] == "pass"


def test_essentials_rules_leave_a_vmm_site_hyperv_host_alone() -> None:
    host = hyperv_host("6.2", 9200, "Microsoft Windows Server 2012 Datacenter")
    assert verdict("RH008", ["hyperv-host"], host)[0] == "not-applicable"
    assert verdict("RH009", ["hyperv-host"], host)[0] == "not-applicable"
    assert verdict("RH001", ["hyperv-host"], host)[0] == "pass"


@pytest.mark.parametrize(("build", "caption", "expected"), [
    (14393, "Microsoft Windows Server 2016 Essentials", "pass"),
    (17763, "Microsoft Windows Server 2019 Essentials", "fail"),
    (20348, "Microsoft Windows Server 2022 Essentials", "fail"),
])
def test_only_2016_essentials_passes(build: int, caption: str, expected: str) -> None:
    host = hyperv_host("10.0", build, caption, edition="ServerSolution")
    assert verdict("RH009", ["hyperv-host"], host)[0] == expected
    assert verdict("RH008", ["hyperv-host"], host)[0] == "pass"


def vmm(clouds: int) -> Callable[[dict[str, Any]], None]:
    def change(facts: dict[str, Any]) -> None:
        facts["vmm"].update(server=True, version="3.2.7510.0", error=None,
                            clouds=[{"name": f"Cloud{i}", "host_groups": ["All Hosts"],
                                     "capability_profiles": ["Hyper-V"]} for i in range(clouds)])
    return change


@pytest.mark.parametrize(("clouds", "servers", "expected"), [(1, None, "fail"), (2, None, "pass"),
                                                             (1, 2, "pass"), (0, 2, "fail")])
def test_a_single_vmm_server_needs_two_clouds(clouds: int, servers: int | None, expected: str) -> None:
    status, message = verdict("RY004", ["vmm-server"], vmm(clouds), plan=Plan(vmm_servers=servers))
    assert status == expected, message


# ---------------------------------------------------------------- sizing, vault key, reprotect


def sized(cpu: int, memory_gb: float, cache_free_gb: float) -> Callable[[dict[str, Any]], None]:
    def change(facts: dict[str, Any]) -> None:
        facts["windows"].update(cpu_count=cpu, memory_gb=memory_gb)
        for volume in facts["windows"]["volumes"]:
            if volume.get("letter") == "C:":
                volume["free_gb"] = cache_free_gb
    return change


@pytest.mark.parametrize(("machines", "change_gb", "expected"), [
    (85, 250, "pass"),    # the smallest row's bounds are inclusive (l.156: "85 or less", "250 GB or less")
    (86, None, "fail"),   # 86 machines need 8 vCPUs
    (None, 251, "fail"),
])
def test_scale_out_process_server_rows(machines: int | None, change_gb: float | None, expected: str) -> None:
    plan = Plan(planned_machines=machines, daily_change_gb=change_gb)
    status, message = verdict("RM223", ["process-server"], sized(4, 8, 300), plan=plan)
    assert status == expected, message


@pytest.mark.parametrize(("age", "expected"), [(4.99, "pass"), (5.0, "fail"), (12, "fail")])
def test_vault_key_age(age: float, expected: str) -> None:
    plan = Plan(vault_key={"path": "vault.VaultCredentials", "age_days": age})
    assert verdict("RM224", ["management-server"], plan=plan)[0] == expected
    assert verdict("RM224", ["management-server"])[0] == "not-applicable"


def test_configuration_server_running_and_registered() -> None:
    def cs(services: dict[str, str], registered: bool) -> Callable[[dict[str, Any]], None]:
        def change(facts: dict[str, Any]) -> None:
            facts["windows"]["config_server"] = {"installed": True, "services": services, "registered": registered}
        return change
    running = {"tmansvc": "Running", "ProcessServer": "Running", "obengine": "Running"}
    assert verdict("RM225", ["management-server"], cs(running, True))[0] == "pass"
    status, message = verdict("RM225", ["management-server"], cs({**running, "tmansvc": "Stopped"}, True))
    assert status == "fail" and "tmansvc" in message
    status, message = verdict("RM225", ["management-server"], cs(running, False))
    assert status == "fail" and "not registered" in message
    assert verdict("RM225", ["management-server"])[0] == "not-applicable"


# ---------------------------------------------------------------- VC-NET-001 from a Windows management server


def test_the_windows_probe_measures_vcenter_443_and_the_rule_reads_it() -> None:
    """--vcenter reaches the probe as data, and its answer becomes lan.vcenter, which RN050 judges (V:348)."""
    import json

    from readiness.checks.windows.collector import probe_input
    from readiness.settings import ScanSettings

    assert "vcenter\tvc01.contoso.local" in probe_input(ScanSettings(vcenter="vc01.contoso.local"), True).splitlines()
    lines = FIXTURE.read_text(encoding="ascii").splitlines()
    at = lines.index("==section net ok") + 1
    for ok, expected in ((True, "pass"), (False, "fail")):
        net = json.loads(lines[at])
        net["vcenter"] = {"ok": ok, "ms": 1.5, "error": None if ok else "timed out", "host": "vc01", "port": 443}
        text = "\n".join([*lines[:at], json.dumps(net, separators=(",", ":")), *lines[at + 1:]]) + "\n"
        facts, gaps = parse_probe(text)
        assert facts["lan"]["vcenter"]["host"] == "vc01" and not gaps.get("lan.vcenter")
        target = TargetFacts(uri="winrm://cs01", name="cs01", scheme="winrm", roles=["management-server"],
                             facts=facts, gaps=gaps)
        finding = next(f for f in judge_target(target, list(default_rules())) if f.rule_id == "RN050")
        assert finding.status == expected, finding.message
