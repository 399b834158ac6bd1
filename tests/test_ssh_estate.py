"""An estate scan from the command line, over SSH, against real sshd hosts of several distributions.

Each distribution is a chrooted sshd (ChrootDirectory) whose root holds helper-2's
fixture files (fixtures/distros/<name>/, tests/chroot_hosts.py) and a static
busybox; the bad hosts are the ways real estates go wrong.  The scan is the
command a consultant types: `readiness scan -i inventory.yaml --reporter cli json:r.json`.
The network facts (outbound ports, the management server on 443/9443, the clock)
are measured from inside each target against listeners on 127.0.0.42.
"""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import yaml

from readiness.checks.linux.parse import parse_probe
from readiness.engine import judge_target
from readiness.facts import TargetFacts
from readiness.rulepack import load_rules
from tests.chroot_hosts import build_root, load_meta, run_probe
from tests.netpeers import https_server, tcp_listener
from tests.reportschema import validate_report
from tests.sshd_hosts import SilentListener, SshLab, free_port

MANAGEMENT = "127.0.0.42"
DISTROS = ("centos-6.6", "rhel-6.7", "oracle-6.5-uek3", "sles-11-sp3", "centos-6.6-badhosts", "centos-6.6-sshd-off",
           "centos-6.6-cciss")
#: Bad hosts and the reason each must be reported with.
BROKEN = {
    "refused": "connection refused (nothing listens on port",
    "silent": "the port answers TCP but never speaks SSH",
    "mismatch": "HOST KEY MISMATCH",
    "stranger": "host key not in known_hosts",
    "badpass": "authentication failed",
    "garbage": "garbage from the probe",
    "sudo-password": "--become: sudo wants a password for",
}
CONNECT_TIMEOUT = 3
REPO = Path(__file__).resolve().parents[1]
#: The packs that judge a protected Linux machine, for the runs that compare verdicts with a direct probe run;
#: the main estate scan uses the shipped packs, exactly as a consultant would.
RULE_ARGS = ("--rules", str(REPO / "rules" / "linux.yaml"), "--rules", str(REPO / "rules" / "network.yaml"))


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    work = tmp_path_factory.mktemp("estate")
    with ExitStack() as stack:
        lab = SshLab()
        stack.callback(lab.close)
        web = stack.enter_context(https_server(None))
        for port in (443, 9443):
            stack.enter_context(tcp_listener(MANAGEMENT, port))
        silent = SilentListener()
        stack.callback(silent.close)
        ports: dict[str, int] = {}
        for name in DISTROS:
            ports[name] = lab.start(name, root=lab.distro_root(name)).port
        ports["refused"] = free_port()
        ports["silent"] = silent.port
        mismatch = lab.start("mismatch", trusted=False)
        lab.trust(mismatch, key=lab.other_host_key)
        ports["mismatch"] = mismatch.port
        ports["stranger"] = lab.start("stranger", trusted=False).port
        ports["badpass"] = lab.start("badpass", extra="PubkeyAuthentication no\n").port
        ports["garbage"] = lab.start("garbage", extra="ForceCommand echo 'Last login: yesterday'\n").port
        ports["sudo-password"] = lab.start("sudo-password").port
        drop_in = Path(f"/etc/sudoers.d/readiness-estate-{lab.user}")
        drop_in.write_text(f"{lab.user} ALL=(root) ALL\n")  # sudo, but only with a password
        drop_in.chmod(0o440)
        stack.callback(drop_in.unlink)

        hosts = []
        for name, port in ports.items():
            entry: dict[str, Any] = {"host": "127.0.0.1", "port": port, "name": name}
            if name == "sudo-password":
                entry["become"] = True
            hosts.append(entry)
        inventory = work / "inventory.yaml"
        inventory.write_text(yaml.safe_dump({
            "version": 1,
            "defaults": {"user": lab.user, "key": str(lab.client_key), "roles": ["protected-linux"]},
            "groups": {"distros": {"hosts": [h for h in hosts if h["name"] in DISTROS]},
                       "broken": {"hosts": [h for h in hosts if h["name"] not in DISTROS]}},
        }, sort_keys=False))
        network = work / "network.yaml"
        network.write_text(yaml.safe_dump({
            "endpoints": [{"id": "local-web", "url": f"http://127.0.0.1:{web}/", "requirement": "MS-URL-001"}],
            "port_check_host": MANAGEMENT, "outbound_ports": [443, 9443], "listener_ports": [443, 9443],
            "time_url": f"http://127.0.0.1:{web}/"}))
        yield {"lab": lab, "work": work, "inventory": inventory, "network": network, "ports": ports}


def readiness(estate: dict[str, Any], *args: str,
              packs: tuple[str, ...] = RULE_ARGS) -> subprocess.CompletedProcess[str]:
    home = estate["work"] / "home"
    home.mkdir(exist_ok=True)
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "NO_COLOR": "1", "HOME": str(home),
           "READINESS_SSH_PASSWORD": "definitely-not-" + estate["lab"].password}
    command = [sys.executable, "-m", "readiness.cli", "scan", "--ssh-config", str(estate["lab"].ssh_config),
               "--endpoints", str(estate["network"]), "--connect-timeout", str(CONNECT_TIMEOUT),
               "--network-timeout", "2", *packs, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=env, cwd=estate["work"],
                          stdin=subprocess.DEVNULL)


#: Defects the fixtures were built with, and the rule that must report each.
KNOWN_DEFECTS = {
    "centos-6.6-badhosts": {"LNX-HOSTS-001": "RL002"},
    "centos-6.6-sshd-off": {"LNX-SSHBOOT-001": "RL003"},
    "centos-6.6-cciss": {"LNX-CCISS-001": "RL007"},
}


def local_facts(name: str, estate: dict[str, Any]) -> dict[str, Any]:
    """What probe.sh gives run straight in the fixture root (chroot, as root, no SSH)."""
    return local_probe(name, estate)[0]


def local_probe(name: str, estate: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    root = build_root(name, estate["lab"].roots / f"{estate['lab'].tag}-local-{name}")
    try:
        return parse_probe(run_probe(root))
    finally:
        shutil.rmtree(root, ignore_errors=True)


def local_verdicts(name: str, estate: dict[str, Any]) -> set[str]:
    """Failing requirements of the probe run straight in the fixture root, with RN010's evidence as over SSH."""
    facts, gaps = local_probe(name, estate)
    facts["lan"] = {"management_server": MANAGEMENT, "ports": [
        {"host": MANAGEMENT, "port": p, "ok": True, "ms": 0.0, "error": None} for p in (443, 9443)]}
    target = TargetFacts(uri="local://", name=name, scheme="local", roles=["protected-linux"], facts=facts, gaps=gaps)
    rules = load_rules([REPO / "rules" / "linux.yaml", REPO / "rules" / "network.yaml"])
    return {req for f in judge_target(target, rules, [], [], MANAGEMENT) if f.status == "fail"
            for req in f.requirements}


@pytest.fixture(scope="module")
def report(estate: dict[str, Any]) -> dict[str, Any]:
    start = time.monotonic()
    proc = readiness(estate, "-i", str(estate["inventory"]), "--management-server", MANAGEMENT,
                     "--reporter", "cli", "--reporter", "json:r.json",
                     packs=())  # the shipped rule packs
    elapsed = time.monotonic() - start
    assert proc.returncode == 1, proc.stderr  # gate fails: some hosts are not ready
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    data = json.loads((estate["work"] / "r.json").read_text())
    data["_elapsed"] = elapsed
    data["_stdout"] = proc.stdout
    return data


def by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in report["targets"]}


def failing(target: dict[str, Any]) -> set[str]:
    """Failing requirements of the Linux and network packs (RL/RN), which local_verdicts also runs."""
    return {req for f in target["findings"] if f["status"] == "fail" and f["rule_id"][:2] in ("RL", "RN")
            for req in f["requirements"]}


def test_every_host_is_reported_and_the_report_is_valid(report: dict[str, Any], estate: dict[str, Any]) -> None:
    validate_report({k: v for k, v in report.items() if not k.startswith("_")})
    assert set(by_name(report)) == set(estate["ports"])
    assert report["summary"]["targets"] == len(estate["ports"])
    assert report["summary"]["unknown"] == len(BROKEN)
    # Bad hosts cost at most their timeouts, and the pool runs them side by side.
    assert report["_elapsed"] < 30
    assert all(t["duration_s"] > 0 for t in report["targets"])


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_hosts_are_unknown_with_their_reason(report: dict[str, Any], name: str) -> None:
    target = by_name(report)[name]
    assert target["status"] == "unknown" and target["findings"] == [] and target["score"] is None
    assert BROKEN[name] in target["error"], target["error"]
    assert "Traceback" not in target["error"] and "definitely-not-" not in target["error"]
    assert target["duration_s"] < CONNECT_TIMEOUT + 3


@pytest.mark.parametrize("name", DISTROS)
def test_distribution_hosts_are_judged_on_their_own_facts(report: dict[str, Any], estate: dict[str, Any],
                                                          name: str) -> None:
    target = by_name(report)[name]
    meta = load_meta(name)
    assert target["error"] is None and target["status"] in ("ready", "ready-with-warnings", "not-ready")
    assert target["target"] == f"ssh://{estate['lab'].user}@127.0.0.1:{estate['ports'][name]}"
    assert target["roles"] == ["protected-linux"]
    findings = {f["rule_id"]: f for f in target["findings"]}
    assert meta["expected"]["version"].split(".")[0] in findings["RL001"]["message"]
    # Over SSH (non-root, chrooted sshd) the verdicts are those of the probe run directly in the root.
    assert failing(target) == local_verdicts(name, estate), name
    for requirement, rule_id in KNOWN_DEFECTS.get(name, {}).items():
        assert requirement in meta["defects"] and findings[rule_id]["status"] == "fail", (name, rule_id)
    # The management server was reached from inside the target (busybox nc in the chroot).
    assert findings["RN010"]["status"] == "pass", findings["RN010"]["message"]
    assert findings["RN010"]["evidence"]["server"] == MANAGEMENT


def test_distribution_facts_match_the_fixture(estate: dict[str, Any], tmp_path: Path) -> None:
    """`readiness facts` over SSH: what each chroot reports is what its fixture says it is."""
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(tmp_path)}
    targets = [f"ssh://{estate['lab'].user}@127.0.0.1:{estate['ports'][n]}?key={estate['lab'].client_key}"
               for n in DISTROS]
    proc = subprocess.run([sys.executable, "-m", "readiness.cli", "facts", "--ssh-config",
                           str(estate["lab"].ssh_config), "--endpoints", str(estate["network"]),
                           "--network-timeout", "2", "--role", "process-server", *targets],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    collected = {t["uri"].split("?")[0]: t for t in json.loads(proc.stdout)["targets"]}
    for name in DISTROS:
        facts = collected[f"ssh://{estate['lab'].user}@127.0.0.1:{estate['ports'][name]}"]["facts"]
        expected = load_meta(name)["expected"]
        assert facts["host"]["hostname"] == expected["hostname"], name
        assert facts["os"]["kernel"] == expected["kernel"], name
        assert facts["probe"]["transport"] == "ssh" and facts["probe"]["uid"] != 0
        # Everything the probe read is what the same probe reads run directly in the root, as root.
        local = local_facts(name, estate)
        for namespace in ("os", "host", "network", "boot", "storage", "sshd", "firewall", "packages", "software"):
            assert facts[namespace] == local[namespace], (name, namespace)
        # A process server's network facts, measured from inside the target: same shape as a local scan.
        net = facts["connectivity"]
        assert [p["ok"] for p in net["outbound_ports"]] == [True, True]
        assert net["endpoints"][0]["reachable"] and net["endpoints"][0]["http"]["status"] == 200
        assert net["endpoints"][0]["http"]["tool"] == "wget" and net["endpoints"][0]["tcp"]["tool"] == "nc"
        assert abs(net["clock"]["skew_s"]) <= 2 and net["clock"]["error"] is None
        # No --management-server: nothing to measure toward it (whatever pack asks for `lan`).
        assert facts.get("lan", {"ports": []})["ports"] == []


def test_unreachable_management_server_fails_ms_lan_001(estate: dict[str, Any]) -> None:
    proc = readiness(estate, "-i", str(estate["inventory"]), "--limit", "rhel-6.7", "--management-server",
                     "127.0.0.43", "--reporter", "json:-")
    assert proc.returncode == 1, proc.stderr
    target = json.loads(proc.stdout)["targets"][0]
    rn010 = next(f for f in target["findings"] if f["rule_id"] == "RN010")
    assert rn010["status"] == "fail" and rn010["requirements"] == ["MS-LAN-001"]
    assert "cannot reach 127.0.0.43: 443" in rn010["message"]


def test_ansible_ini_inventory_with_limit_and_console(estate: dict[str, Any]) -> None:
    """The same hosts through an Ansible INI inventory as a team already has it."""
    lab: SshLab = estate["lab"]
    ports = estate["ports"]
    ini = estate["work"] / "hosts.ini"
    ini.write_text(
        "[el6]\n"
        f"c66 ansible_host=127.0.0.1 ansible_port={ports['centos-6.6']}\n"
        f"rhel67 ansible_host=127.0.0.1 ansible_port={ports['rhel-6.7']}\n"
        "[sles]\n"
        f"sles11 ansible_host=127.0.0.1 ansible_port={ports['sles-11-sp3']}\n"
        "[linux:children]\nel6\nsles\n"
        f"[linux:vars]\nansible_user={lab.user}\nansible_ssh_private_key_file={lab.client_key}\n"
        "readiness_roles=protected-linux\n")
    proc = readiness(estate, "-i", str(ini), "--limit", "linux:!rhel67", "--reporter", "json:-")
    assert proc.returncode in (0, 1), proc.stderr
    report = json.loads(proc.stdout)
    assert sorted(t["name"] for t in report["targets"]) == ["c66", "sles11"]
    assert all(t["error"] is None for t in report["targets"])


def test_malformed_inventory_is_exit_2_with_file_and_line(estate: dict[str, Any]) -> None:
    bad = estate["work"] / "bad.ini"
    bad.write_text("[web]\nweb1 ansible_port=22\n[web:vars\nansible_user=x\n")
    proc = readiness(estate, "-i", str(bad))
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"readiness: error: {bad}:3: bad section header '[web:vars' (use [group], " \
                                  "[group:vars], [group:children])"


def test_progress_bar_only_on_a_terminal(estate: dict[str, Any]) -> None:
    """stderr a pipe: no bar at all; stderr a terminal: a bar with ok / not-ready / unknown counts."""
    args = ["-i", str(estate["inventory"]), "--limit", "centos-6.6*,refused", "--reporter", "json:-"]
    piped = readiness(estate, *args)
    assert piped.returncode in (0, 1) and piped.stderr == ""
    master, slave = pty.openpty()
    try:
        home = estate["work"] / "home"
        proc = subprocess.run([sys.executable, "-m", "readiness.cli", "scan", "--ssh-config",
                               str(estate["lab"].ssh_config), "--endpoints", str(estate["network"]), *RULE_ARGS,
                               *args],
                              stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL, timeout=120,
                              env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(home), "TERM": "xterm",
                                   "COLUMNS": "150"})
        os.close(slave)
        slave = -1
        seen = b""
        while select.select([master], [], [], 0.2)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
    assert proc.returncode in (0, 1)
    text = seen.decode("utf-8", "replace")
    assert "scanning" in text and "unknown 1" in text, text[-400:]
    assert len(json.loads(proc.stdout)["targets"]) == 5  # the bar never mixes into the report
