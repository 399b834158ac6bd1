"""Hostile SSH peers (tests/hostile_ssh.py) end `unknown` with the right reason, and the rest of the scan is reported.

Each peer used to hold a worker for good (an exec request never answered, a window never reopened) or
to produce a misleading sentence (EOFError, "no SSH banner" for a web server).  The timeouts here are
small (2 s) so a regression shows as a wrong reason or a hung test, never as a timed assertion.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from readiness.cli import main
from readiness.rulepack import default_rules
from readiness.scan import collect_target
from readiness.settings import NetworkSettings, ScanSettings
from readiness.targets import parse_target
from readiness.transports.ssh import SSHTransport
from tests.hostile_ssh import KINDS, HostilePeer
from tests.sshd_hosts import SshLab

ROOT = Path(__file__).resolve().parent.parent
RULES = list(default_rules())
PASSWORD = "h0stile-peer-pw-7731"
PARTIAL = b"@@readiness@@ probe 1\n@@readiness@@ cmd uname\nLinux\n@@readiness@@ end 0\n@@readiness@@ cmd os-rel"
EXPECTED = {
    "stall-exec": "did not answer the request to start the probe within 2 s (exec request stalled)",
    "tiny-window": "the target stopped reading the probe after 1024 of ",
    "garbage-after-banner": "SSH negotiation failed: after its banner 'SSH-2.0-OpenSSH_5.3' it sent what is not SSH",
    "banner-then-silence": "SSH negotiation stalled: it sent its banner 'SSH-2.0-OpenSSH_5.3' but did not "
                           "complete the key exchange within 2 s",
    "not-ssh": "not an SSH server (sent 'HTTP/1.1 400 Bad Request\\r\\nServer: nginx",
    "backlog": "no TCP answer within 2 s (host down, filtered, or its connection backlog is full)",
    "junk": "garbage from the probe",
    "silent": "no SSH banner within 2 s (the port answers TCP but never speaks SSH)",
}


@pytest.fixture(scope="module")
def peers() -> Iterator[dict[str, HostilePeer]]:
    made = {kind: HostilePeer(kind, output=PARTIAL if kind == "truncated" else b"Welcome!\nno probe here\n")
            for kind in KINDS}
    try:
        yield made
    finally:
        for peer in made.values():
            peer.close()


@pytest.fixture()
def client(tmp_path: Path, peers: dict[str, HostilePeer], monkeypatch: pytest.MonkeyPatch) -> ScanSettings:
    """A client that trusts the peers' host key and logs in with a password from the environment."""
    known = tmp_path / "known_hosts"
    known.write_text("".join(p.known_hosts_line() for p in peers.values()))
    config = tmp_path / "ssh_config"
    config.write_text(f"Host *\n  UserKnownHostsFile {known}\n")
    monkeypatch.setenv("READINESS_SSH_PASSWORD", PASSWORD)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    return ScanSettings(ssh_config=config, connect_timeout_s=2.0, command_timeout_s=3.0,
                        network=NetworkSettings(endpoints=[], outbound_ports=[], port_check_host="127.0.0.1"))


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_each_hostile_peer_is_unknown_with_its_reason(kind: str, peers: dict[str, HostilePeer],
                                                      client: ScanSettings) -> None:
    peer = peers[kind]
    [result] = collect_target(parse_target(f"ssh://scanner@{peer.address}"), client, RULES)
    assert result.error is not None and EXPECTED[kind] in result.error, result.error
    assert not result.facts
    assert result.duration_s <= SSHTransport(parse_target(f"ssh://{peer.address}"), client).deadline_s()


def test_truncated_output_is_handed_on_as_it_arrived(peers: dict[str, HostilePeer], client: ScanSettings) -> None:
    """The transport passes what arrived (exit -1: no status); the collector, not the transport, judges it."""
    transport = SSHTransport(parse_target(f"ssh://scanner@{peers['truncated'].address}"), client)
    with transport:
        result = transport.run_script("echo this probe is never run\n")
    assert result.stdout == PARTIAL.decode() and result.exit_status == -1
    [collected] = collect_target(parse_target(f"ssh://scanner@{peers['truncated'].address}"), client, RULES)
    assert collected.error is not None and not collected.facts


def test_the_watchdog_closes_a_stuck_transport_at_the_target_deadline(peers: dict[str, HostilePeer],
                                                                       client: ScanSettings) -> None:
    """With a command timeout far away, only the overall deadline ends the stuck send."""
    client.command_timeout_s = 600.0
    client.target_deadline_s = 2.0
    [result] = collect_target(parse_target(f"ssh://scanner@{peers['tiny-window'].address}"), client, RULES)
    assert result.error is not None and result.error.startswith("no result within the 2 s deadline for this target")


def test_a_scan_with_good_and_hostile_hosts_reports_every_host(peers: dict[str, HostilePeer], client: ScanSettings,
                                                               tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    lab = SshLab()
    try:
        lab.start("good")
        with lab.known_hosts.open("a") as fh:
            fh.write("".join(p.known_hosts_line() for p in peers.values()))
        report = tmp_path / "report.json"
        uris = ["ssh://good", *(f"ssh://scanner@{peers[k].address}" for k in sorted(EXPECTED))]
        code = main(["scan", *uris, "--ssh-config", str(lab.ssh_config), "--connect-timeout", "2", "--timeout", "5",
                     "--role", "protected-linux", "--reporter", f"json:{report}"])
    finally:
        lab.close()
    data = json.loads(report.read_text())
    by_uri = {t["target"]: t for t in data["targets"]}
    assert set(by_uri) == set(uris) and code in (1, 3)
    assert by_uri["ssh://good"]["status"] != "unknown", by_uri["ssh://good"]
    for kind in EXPECTED:
        target = by_uri[f"ssh://scanner@{peers[kind].address}"]
        assert target["status"] == "unknown" and EXPECTED[kind] in target["error"], (kind, target["error"])
    assert PASSWORD not in report.read_text()
    err = capsys.readouterr().err
    assert "Traceback" not in err and PASSWORD not in err, err[-3000:]


def test_ctrl_c_writes_what_finished_marked_interrupted_and_exits_130(tmp_path: Path) -> None:
    """One worker: the good host finishes, then the scan sits on a peer that never answers the exec request."""
    stall = HostilePeer("stall-exec")
    lab = SshLab()
    try:
        lab.start("good")
        with lab.known_hosts.open("a") as fh:
            fh.write(stall.known_hosts_line())
        report = tmp_path / "report.json"
        proc = subprocess.Popen(
            [sys.executable, "-m", "readiness.cli", "scan", "ssh://good", f"ssh://scanner@{stall.address}",
             "--workers", "1", "--ssh-config", str(lab.ssh_config), "--connect-timeout", "300",
             "--role", "protected-linux", "--reporter", f"json:{report}", "--save-facts", str(tmp_path / "facts.json")],
            cwd=ROOT, env={**os.environ, "READINESS_SSH_PASSWORD": PASSWORD},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            if not stall.exec_requested.wait(60):
                proc.kill()
                pytest.fail(f"the scan never reached the stalling host: {proc.communicate()[1].decode()[-2000:]}")
            proc.send_signal(signal.SIGINT)
            _out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    finally:
        stall.close()
        lab.close()
    assert proc.returncode == 130, err.decode()
    assert b"Traceback" not in err
    data = json.loads(report.read_text())
    assert data["interrupted"] is True
    assert any("interrupted" in note for note in data["notes"])
    assert [t["target"] for t in data["targets"]] == ["ssh://good"]
    saved = json.loads((tmp_path / "facts.json").read_text())
    assert [t["uri"] for t in saved["targets"]] == ["ssh://good"]
