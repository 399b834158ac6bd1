"""Issue 10's defects in the Windows probe and parser, one test each that would have caught it.

PowerShell cannot run here, so the probe side is checked on probe.ps1's source (comments and string
literals apart from code, as far as the defect needs) and the parser side on probe outputs that show the
defect: fixtures/windows/*.txt (see each fixture's .sources.md) and edits of them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from readiness.checks.windows.collector import probe_script
from readiness.checks.windows.parse import parse_probe
from readiness.engine import judge_target
from readiness.facts import TargetFacts
from readiness.rulepack import default_rules

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "windows"


def code_lines() -> list[str]:
    """probe.ps1 without its comment lines and end-of-line comments (no '#' occurs inside its strings
    except in '#' free text, which this check does not need)."""
    lines = []
    for line in probe_script().splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            continue
        lines.append(re.sub(r"\s#\s.*$", "", line))
    return lines


def code() -> str:
    return "\n".join(code_lines())


def text(name: str) -> str:
    return (FIXTURES / f"{name}.txt").read_text(encoding="ascii")


def verdict(facts: dict[str, Any], gaps: dict[str, str], role: str, rule: str) -> str:
    target = TargetFacts(uri="winrm://x", name="x", scheme="winrm", roles=[role], facts=facts, gaps=gaps)
    return next(f.status for f in judge_target(target, list(default_rules())) if f.rule_id == rule)


# ---------------------------------------------------------------- PowerShell 2.0 behaviour


def test_every_foreach_iterates_an_array_because_ps2_runs_the_body_once_over_null() -> None:
    loops = re.findall(r"foreach\s*\(\s*\$\w+\s+in\s+(.{0,3})", code())
    assert loops, "no foreach found: the pattern no longer matches the probe"
    assert [start for start in loops if not start.startswith("@(")] == []


def test_the_probe_never_reads_console_stdin() -> None:
    # PowerShell 2.0 drains redirected stdin into the pipeline: [Console]::In.ReadToEnd() gets nothing
    assert "[Console]::In" not in code() and "ReadToEnd" not in code()


def test_a_failed_lookup_yields_nothing_and_lists_never_print_null() -> None:
    source = code()
    try_get = re.search(r"function Try-Get.*", source).group(0)  # type: ignore[union-attr]
    assert "return $null" not in try_get and re.search(r"catch \{\s*\}", try_get)
    assert "if ($null -ne $item)" in source  # Get-Json leaves $null items out of a list


def test_tls12_is_asked_for_without_an_enum_cast_clr2_lacks() -> None:
    source = code()
    assert not re.search(r"\[Net\.SecurityProtocolType\]\s*(\d|::Tls1[12])", source)
    assert "[Enum]::ToObject([Net.SecurityProtocolType]" in source


def test_the_output_ends_with_a_counted_trailer() -> None:
    assert "Write-Line ('==end ' + $SectionCount)" in code()
    assert "$script:SectionCount += 1" in code()


# ---------------------------------------------------------------- [null] items and scalars for lists


def test_null_items_and_a_scalar_for_a_list_keep_the_host() -> None:
    raw = text("win2012r2-null-items")
    assert '"server_features":[null,' in raw and '"dns_servers":"10.20.1.5"' in raw  # what the old probe printed
    facts, gaps = parse_probe(raw)
    assert gaps == {}
    assert None not in facts["windows"]["server_features"] and facts["windows"]["hotfixes"][0] == "KB2756872"
    assert facts["network"]["interfaces"][0]["dns_servers"] == ["10.20.1.5"]
    assert None not in facts["windows"]["listeners"]


@pytest.mark.parametrize(("section", "body"), [
    ("storage", '{"disks":[null,{"index":"x"}]}'),
    ("software", '{"programs":{"name":["a"]}}'),
    ("security", '[1,2]'),
    ("adapters", '"just a string"'),
])
def test_a_malformed_section_is_a_gap_with_the_reason(section: str, body: str) -> None:
    raw = re.sub(rf"(==section {section} ok\r?\n)[^\r\n]*", lambda m: m.group(1) + body, text("win2012r2"))
    facts, gaps = parse_probe(raw)
    reasons = {reason for reason in gaps.values() if reason.startswith(f"probe section {section} is malformed")}
    assert reasons, gaps
    assert facts["os"]["version"] == "6.3"  # the other sections stand


# ---------------------------------------------------------------- administrators, firewall, RDP, updates


def test_a_uac_filtered_local_admin_is_in_administrators_but_not_elevated() -> None:
    assert "whoami.exe /groups" in code() and "S-1-5-32-544" in code()
    facts, gaps = parse_probe(text("win2012r2-uac-local-admin"))
    account = facts["windows"]["account"]
    assert (account["in_administrators"], account["elevated"], account["local"]) == (True, False, True)
    assert verdict(facts, gaps, "protected-windows", "RW007") == "pass"
    assert verdict(facts, gaps, "protected-windows", "RW005") == "fail"  # remote UAC: the token filter applies


def test_without_whoami_a_non_elevated_account_is_unknown_not_a_non_admin() -> None:
    raw = text("win2012r2-uac-local-admin").replace('"in_administrators":true,"groups_source":"whoami"',
                                                     '"in_administrators":null,"groups_source":"identity-groups"')
    facts, gaps = parse_probe(raw)
    assert facts["windows"]["account"]["in_administrators"] is None
    assert "deny-only" in gaps["windows.account.in_administrators"]
    assert verdict(facts, gaps, "protected-windows", "RW007") == "error"


def test_group_policy_firewall_overrides_the_local_store() -> None:
    assert "SOFTWARE\\Policies\\Microsoft\\WindowsFirewall" in code()
    facts, gaps = parse_probe(text("win2016-gpo-firewall"))
    firewall = facts["windows"]["firewall"]
    assert firewall["source"] == "group-policy" and firewall["policy_rules"] == 2
    # locally enabled, but AllowLocalPolicyMerge = 0 on the domain profile: only the policy's rules apply
    assert firewall["groups"] == {"file_and_printer_sharing": False, "wmi": False, "remote_desktop": True}
    assert verdict(facts, gaps, "protected-windows", "RW006") == "fail"
    local, _ = parse_probe(text("win2016"))
    assert local["windows"]["firewall"]["source"] == "local" and local["windows"]["firewall"]["groups"]["wmi"]


def test_rdp_reads_the_policy_value_first() -> None:
    source = code()
    assert source.index("Policies\\Microsoft\\Windows NT\\Terminal Services") < source.index("$denyPolicy = ")
    raw = text("win2012r2").replace('"deny_ts_connections":0,"deny_ts_source":"local"',
                                    '"deny_ts_connections":1,"deny_ts_source":"group-policy"')
    facts, _ = parse_probe(raw)
    assert facts["windows"]["rdp_enabled"] is False and facts["windows"]["rdp_source"] == "group-policy"


def test_an_update_only_in_the_cbs_store_counts() -> None:
    assert "Component Based Servicing\\Packages" in code()
    raw = text("win2012r2-hyperv-cluster-nokb")
    facts, gaps = parse_probe(raw)
    assert "KB2961977" not in facts["windows"]["hotfixes"]
    assert verdict(facts, gaps, "hyperv-host", "RH002") == "fail"
    integrated = raw.replace('"cbs_ids":["KB2919355"', '"cbs_ids":["KB2961977","KB2919355"')
    facts, gaps = parse_probe(integrated)
    assert facts["windows"]["hotfix_sources"]["KB2961977"] == ["cbs"]
    assert verdict(facts, gaps, "hyperv-host", "RH002") == "pass"


# ---------------------------------------------------------------- the smaller ones


def test_install_language_and_net30_come_from_the_documented_values() -> None:
    source = code()
    assert "'InstallLanguage'" in source and "Nls\\Language' 'Default'" not in source
    assert "v3.0\\Setup\" 'InstallSuccess'" in source
    german, _ = parse_probe(text("win2012r2-de-DE"))
    assert german["windows"]["locale"]["install_language_lcid"] == "0407"


def test_a_dynamic_mbr_disk_is_logical_disk_manager() -> None:
    raw = text("win2008r2-dynamic-os-disk")
    assert '"type":"Logical Disk Manager"' in raw
    facts, _ = parse_probe(raw)
    os_disk = facts["windows"]["os_disk"]
    assert os_disk["dynamic"] is True and os_disk["found_by"] == "boot-partition"


def test_2008r2_without_the_tls12_update_cannot_reach_azure() -> None:
    facts, gaps = parse_probe(text("win2008r2-sp1"))
    assert facts["windows"]["tls_protocols"] == "Tls"
    endpoints = facts["connectivity"]["endpoints"]
    assert all(e["http"]["tls_error"] and not e["reachable"] for e in endpoints)
    assert verdict(facts, gaps, "management-server", "RN001") == "fail"
