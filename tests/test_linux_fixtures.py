"""Rules on real distribution fixtures: the real probe runs in a chroot of each release, then is judged.

Every fixture host (fixtures/distros/<name>/) says in meta.yaml what it is and which requirements it is
built to violate; the verdict must name exactly those among the requirements judged in its role.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

import pytest

from readiness.checks.linux.parse import parse_probe
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
                         "findings": {f.rule_id: f for f in judge_target(
                             target, rules, management_server=meta.get("management_server"))}}
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
    # With a management server named, MS-LAN-001 wants the network probe's `lan` facts, which the chroot run
    # does not produce (it measures real connections); every other rule must be judged.
    errors = {f.rule_id: f.message for f in host["findings"].values() if f.status == "error"
              and "no lan facts were collected" not in f.message}
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
    for rule in ("RM001", "RM002", "RM003", "RM004", "RM005", "RM006", "RM007", "RM008"):
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


def test_multipath_luns_count_once(judged: dict[str, dict[str, Any]]) -> None:
    """20 LUNs x 4 paths + the OS disk: 81 sd devices, 21 disks; VM-DISK-002 passes, VM-DISK-001 names one LUN once."""
    host = judged["centos-6.6-multipath"]
    storage = host["facts"]["storage"]
    assert (storage["disk_count"], storage["device_paths"]) == (21, 81)
    assert {d["paths"] for d in storage["disks"] if d["multipath"]} == {4}
    count = host["findings"]["RL017"]
    assert count.status == "pass" and "21 disk(s) over 81 device paths" in count.message
    big = host["findings"]["RL016"]
    assert big.status == "fail" and big.message.count("mpatha ") == 1 and "mpathb" not in big.message, big.message
    assert "1023.05 GiB (1098490314752 bytes)" in big.message
    iscsi, bonds = host["findings"]["RL024"], host["findings"]["RL025"]
    assert iscsi.status == "fail" and "iqn.2003-01.org.linux-iscsi" in iscsi.message
    assert bonds.status == "fail" and "bond0:eth1+eth2" in bonds.message
    mobility = host["findings"]["RL026"]
    assert mobility.status == "fail" and "10.20.0.9" in mobility.message and "10.20.0.5" in mobility.message
    as_master = TargetFacts(uri="ssh://x", name="m", scheme="ssh", roles=["master-target"], facts=host["facts"],
                            gaps=host["gaps"])
    rm008 = {f.rule_id: f for f in judge_target(as_master, list(default_rules()), management_server="10.20.0.5")}
    assert rm008["RM008"].status == "fail" and "role Agent" in rm008["RM008"].message


def test_push_judges_port_22_on_the_input_chain(judged: dict[str, dict[str, Any]]) -> None:
    """sshd on 22 and 2222, only 2222 open in RH-Firewall-1-INPUT, an OUTPUT rule naming 22: push is blocked."""
    findings = judged["centos-6.6-ssh2222"]["findings"]
    push = findings["RL019"]
    assert push.status == "fail" and "rejected" in push.message and "RH-Firewall-1-INPUT -j REJECT" in push.message
    assert "OUTPUT" not in push.message
    after_failover = findings["RL004"]
    assert after_failover.status == "pass" and "on TCP 2222 (" in after_failover.message
    assert findings["RL009"].status == "pass"


def test_shared_disk_cluster_is_named(judged: dict[str, dict[str, Any]]) -> None:
    shared = judged["centos-6.6-gfs2"]["findings"]["RL023"]
    assert shared.status == "fail" and "/srv/data (gfs2)" in shared.message and "clustered LVM" in shared.message
    assert judged["centos-6.6"]["findings"]["RL023"].status == "pass"


def test_every_guest_requirement_is_judged_for_protected_linux(judged: dict[str, dict[str, Any]]) -> None:
    judged_reqs = {req for f in judged["centos-6.6"]["findings"].values() for req in f.requirements}
    assert {"VM-DISK-001", "VM-DISK-002", "VM-BOOT-001", "VM-NAME-001", "VM-SHARED-001", "VM-NIC-001",
            "VM-ISCSI-001", "LNX-MOB-001"} <= judged_reqs
