"""vCenter endpoints that misbehave: every one must end as an `unknown` target (or a recorded gap) with the reason.

Two kinds of real peers on 127.0.0.1 (tests/vcsim/hostile.py): our own hostile server (accepts TCP and never
speaks TLS, completes TLS and never answers, trickles a never-ending answer, stalls or trickles the SOAP calls
after a valid version document, answers HTML), and a proxy in front of the govmomi simulator that corrupts the
inventory answer (an XML encoding nobody knows, 5000-deep nesting, a truncated page) while login and session
stay real.  No timed assertion: the subprocess timeout only turns a hang into a failure instead of a stuck run.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from readiness.settings import ScanSettings
from readiness.targets import parse_target
from readiness.transports.base import CONNECT_STEPS
from readiness.transports.vcenter import VCenterTransport
from tests import vcsim
from tests.pki import TestCA
from tests.test_vcenter import VERSIONS, run, verdicts
from tests.vcsim.estate import VMS, build_estate
from tests.vcsim.hostile import HostileServer, RewritingProxy

pytestmark = pytest.mark.skipif(vcsim.available() is not None, reason=str(vcsim.available()))

HANG = 90  # seconds before a scan that should have ended is called hung (the deadlines below are 1-2 s)


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("hostile-ca"))


def scan_json(uri: str, out: Path, *extra: str, password: str = "x") -> tuple[subprocess.CompletedProcess[str],
                                                                               dict[str, Any]]:
    try:
        proc = run("scan", uri, "--reporter", f"json:{out}", *extra, password=password)
    except subprocess.TimeoutExpired:  # run() has its own timeout; a hang ends here, named
        pytest.fail(f"the scan of {uri} hung")
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc, json.loads(out.read_text())


@pytest.mark.parametrize(("mode", "reason"), [
    ("tcp-silent", "no answer within 1 s"),
    ("tls-silent", "no answer within 1 s"),
    ("trickle", "no answer within 1 s"),
    ("soap-stall", "stopped answering (no complete answer within 2 s)"),
    ("soap-trickle", "stopped answering (no complete answer within 2 s)"),
    ("html", "does not answer like a vSphere API endpoint"),
])
def test_hostile_endpoint_is_unknown_with_reason(ca: TestCA, tmp_path: Path, mode: str, reason: str) -> None:
    issued = ca.issue("localhost", "127.0.0.1")
    server = HostileServer(mode, issued.cert, issued.key)
    server.start()
    try:
        proc, report = scan_json(f"vcenter://u@127.0.0.1:{server.port}", tmp_path / "r.json", "--ca-bundle",
                                 str(ca.bundle), "--connect-timeout", "1", "--timeout", "2")
    finally:
        server.stop()
    assert proc.returncode == 3, proc.stderr
    [target] = report["targets"]
    assert target["status"] == "unknown"
    assert reason in target["error"], target["error"]
    assert "internal error" not in target["error"]
    assert server.connections >= 1  # the peer was really talked to


# ---- a real simulator behind a proxy that corrupts the inventory answer ------------------------------------


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[vcsim.Simulator]:
    work = tmp_path_factory.mktemp("vcsim-hostile")
    with vcsim.Simulator(work, args=VERSIONS) as simulator:
        build_estate(simulator, work / "nfs-free", vms={k: VMS[k] for k in ("app-clean-01", "win-clean-01", "mt-lsi")})
        yield simulator


def through_proxy(sim: vcsim.Simulator, tmp_path: Path, rewrite: Callable[[bytes], bytes], timeout: str = "10"
                  ) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """A scan through the proxy; a call may take `timeout` seconds (connecting too: the call bound is the larger)."""
    assert sim.ca is not None
    issued = sim.ca.issue("localhost", "127.0.0.1")
    proxy = RewritingProxy(sim.port, sim.bundle, issued.cert, issued.key, rewrite)
    proxy.start()
    try:
        return scan_json(sim.uri().replace(f":{sim.port}", f":{proxy.port}"), tmp_path / "r.json", "--ca-bundle",
                         str(sim.bundle), "--timeout", timeout, "--connect-timeout", timeout, password=sim.password)
    finally:
        proxy.stop()


def bulk_only(change: Callable[[bytes], bytes]) -> Callable[[bytes], bytes]:
    """Rewrite only the inventory answer (the one listing VMs), not pyVmomi's own property reads."""
    return lambda body: change(body) if b'<obj type="VirtualMachine">' in body else body


def unknown_encoding(body: bytes) -> bytes:
    return body.replace(b'encoding="UTF-8"', b'encoding="x-klingon-2"', 1)


def deep_first_vm(body: bytes) -> bytes:
    """5000 nested elements inside the first VM's firmware (a property read whole, not pruned)."""
    marker = b"<name>config.firmware</name>"
    start = body.index(marker)
    close = body.index(b">", body.index(b"<val", start)) + 1
    return body[:close] + b"<x>" * 5000 + b"</x>" * 5000 + body[close:]


@pytest.mark.parametrize(("rewrite", "reason"), [
    (bulk_only(unknown_encoding), "an XML encoding this tool cannot decode (unknown encoding: x-klingon-2)"),
    (lambda body: body if b'<obj type="VirtualMachine">' in body else unknown_encoding(body),
     "sent an answer that cannot be read (LookupError)"),  # pyVmomi's own reads (privileges, licences)
    (bulk_only(lambda body: body[: len(body) // 2]), "not well-formed XML"),
])
def test_unreadable_inventory_answer_is_a_target_error(sim: vcsim.Simulator, tmp_path: Path,
                                                       rewrite: Callable[[bytes], bytes], reason: str) -> None:
    proc, report = through_proxy(sim, tmp_path, rewrite)
    assert proc.returncode == 3, proc.stderr
    [target] = report["targets"]
    assert target["status"] == "unknown" and reason in target["error"], target["error"]
    assert "internal error" not in target["error"]


def test_deep_nesting_is_a_gap_of_that_vm_only(sim: vcsim.Simulator, tmp_path: Path) -> None:
    proc, report = through_proxy(sim, tmp_path, bulk_only(deep_first_vm))
    assert proc.returncode in (0, 1), proc.stderr
    by_name = {t["name"]: t for t in report["targets"]}
    assert by_name["127.0.0.1"]["status"] != "unknown"
    broken = [t for t in report["targets"] if t["roles"] == ["vmware-vm"]
              and any(f["status"] == "error" and "VM-BOOT-001" in f["requirements"] for f in t["findings"])]
    assert len(broken) == 1, [t["name"] for t in broken]
    message = next(f["message"] for f in broken[0]["findings"] if "VM-BOOT-001" in f["requirements"])
    assert re.search(r"config\.firmware: vCenter's value is nested deeper than \d+ levels", message)
    table = verdicts(report)
    assert table[broken[0]["name"]]["VM-DISK-001"] == "pass"  # the VM's other facts are intact
    others = {"app-clean-01", "win-clean-01", "mt-lsi"} - {broken[0]["name"]}
    assert all(table[name]["VM-BOOT-001"] == "pass" for name in others)


def test_every_connection_of_a_session_has_a_timeout(sim: vcsim.Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """The connections pyVmomi pools (and the page reader borrows) carry the call timeout; none blocks forever."""
    monkeypatch.setenv("READINESS_VCENTER_PASSWORD", sim.password)
    transport = VCenterTransport(parse_target(sim.uri()), ScanSettings(ca_bundle=sim.bundle, connect_timeout_s=3,
                                                                       command_timeout_s=7))
    transport.open()
    try:
        stub = transport.si._stub
        conn = stub.GetConnection()
        if conn.sock is None:
            conn.connect()
        assert conn.sock.gettimeout() == 7
        stub.ReturnConnection(conn)
        assert transport.deadline_s() == CONNECT_STEPS * 3 + 5 * 7
    finally:
        transport.close()


def test_inventory_page_that_never_comes_is_unknown(sim: vcsim.Simulator, tmp_path: Path) -> None:
    """The bulk page read (soapxml, not pyVmomi) is bounded too: a page the proxy holds back ends the scan."""
    release = threading.Event()

    def hold(body: bytes) -> bytes:
        release.wait(HANG)
        return body

    try:
        proc, report = through_proxy(sim, tmp_path, bulk_only(hold), timeout="2")
    finally:
        release.set()
    assert proc.returncode == 3, proc.stderr
    [target] = report["targets"]
    assert "stopped answering (no complete answer within 2 s)" in target["error"], target["error"]
