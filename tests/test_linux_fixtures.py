"""Rules on real distribution fixtures: the real probe runs in a chroot of each release, then is judged.

Every fixture host (fixtures/distros/<name>/) says in meta.yaml what it is and which requirements it is
built to violate; the verdict must name exactly those among the requirements judged in its role.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

import pytest

from checks.linux.parse import parse_probe
from readiness.engine import judge_target
from readiness.facts import TargetFacts
from readiness.rulepack import default_rules
from tests.chroot_hosts import FIXTURE_HOSTS, build_root, default_root_dir, load_meta, run_probe

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("busybox"),
                                reason="chroot fixtures need root and busybox-static")

DISTRIBUTION = {"ol": "oracle"}  # meta.yaml uses os-release IDs; facts use readable names


@pytest.fixture(scope="module")
def judged() -> dict[str, dict[str, Any]]:
    rules = list(default_rules())
    results = {}
    for name in FIXTURE_HOSTS:
        meta = load_meta(name)
        facts, gaps = parse_probe(run_probe(build_root(name, default_root_dir(name))))
        target = TargetFacts(uri=f"ssh://root@{name}:22", name=name, scheme="ssh", roles=meta["roles"],
                             facts=facts, gaps=gaps)
        in_role = {req for rule in rules if set(rule.roles) & set(meta["roles"]) for req in rule.requirements}
        results[name] = {"meta": meta, "facts": facts, "gaps": gaps, "in_role": in_role,
                         "findings": {f.rule_id: f for f in judge_target(target, rules)}}
    return results


@pytest.mark.parametrize("name", FIXTURE_HOSTS)
def test_release_and_kernel_are_read(name: str, judged: dict[str, dict[str, Any]]) -> None:
    expected = judged[name]["meta"]["expected"]
    facts = judged[name]["facts"]
    assert facts["os"]["distribution"] == DISTRIBUTION.get(expected["distribution"], expected["distribution"])
    assert facts["os"]["version"] == expected["version"]
    assert facts["os"]["kernel"] == expected["kernel"]
    assert facts["os"]["kernel_flavor"] == expected["kernel_flavor"]
    assert facts["os"]["arch"] == expected["arch"]
    assert facts["boot"]["firmware"] == expected["firmware"]
    assert facts["host"]["hostname"] == expected["hostname"]


@pytest.mark.parametrize("name", FIXTURE_HOSTS)
def test_verdict_names_exactly_the_seeded_defects(name: str, judged: dict[str, dict[str, Any]]) -> None:
    host = judged[name]
    meta = host["meta"]
    expected = (set(meta.get("defects", [])) | set(meta.get("extra_defects", []))) & host["in_role"]
    failed = {req for f in host["findings"].values() if f.status == "fail" and f.severity != "info"
              for req in f.requirements}
    assert failed == expected, {f.rule_id: f.message for f in host["findings"].values() if f.status == "fail"}
    errors = {f.rule_id: f.message for f in host["findings"].values() if f.status == "error"}
    assert not errors, errors


def test_messages_quote_the_evidence(judged: dict[str, dict[str, Any]]) -> None:
    def finding(host: str, rule: str):  # type: ignore[no-untyped-def]
        return judged[host]["findings"][rule]

    hosts = finding("centos-6.6-badhosts", "RL002")
    assert hosts.status == "fail" and "10.20.1.31" in hosts.message and "c66-bad01" in hosts.message
    uek2 = finding("oracle-6.5-uek2", "RL021")
    assert uek2.status == "fail" and "2.6.39-400.211.1.el6uek" in uek2.message and "UEK2" in uek2.message
    assert finding("oracle-6.5-uek3", "RL021").status == "pass"
    assert finding("rhel-6.7", "RL021").status == "not-applicable"
    assert finding("centos-6.6-cciss", "RL007").status == "fail"
    big = finding("centos-6.6-btrfs-bigdisk", "RL016")
    assert big.status == "fail" and "2048" in big.message
    assert "btrfs" in finding("centos-6.6-btrfs-bigdisk", "RL005").message
    assert finding("sles-11-sp3-reiserfs", "RL005").status == "pass"
    assert "reiserfs" in finding("centos-6.6-reiserfs", "RL005").message
    off = finding("centos-6.6-sshd-off", "RL003")
    assert off.status == "fail" and "chkconfig" in off.message
    assert finding("centos-7", "RL003").status == "pass" and "systemctl" in finding("centos-7", "RL003").message
    assert finding("centos-6.6-uefi", "RL015").status == "fail"
    sftp = finding("centos-6.6-nosftp", "RL010")
    assert sftp.status == "fail" and "not configured" in sftp.message


def test_master_target_passes_its_rules(judged: dict[str, dict[str, Any]]) -> None:
    findings = judged["mt-centos-6.6"]["findings"]
    for rule in ("RM001", "RM002", "RM003", "RM004", "RM005", "RM006", "RM007"):
        assert findings[rule].status == "pass", (rule, findings[rule].message)
    assert "/mnt/retention" in findings["RM004"].message


def test_a_protected_host_fails_every_master_target_rule_it_should(judged: dict[str, dict[str, Any]]) -> None:
    """Judging a plain CentOS 6.6 as a master target flags what it lacks, without a new scan."""
    host = judged["centos-6.6"]
    target = TargetFacts(uri="ssh://x", name="c", scheme="ssh", roles=["master-target"], facts=host["facts"],
                         gaps=host["gaps"])
    findings = {f.rule_id: f for f in judge_target(target, list(default_rules()))}
    assert findings["RM001"].status == "pass"
    assert findings["RM004"].status == "fail" and "not a mounted volume" in findings["RM004"].message
