"""Network rules against real peers on loopback: dnsmasq, HTTPS servers with our own CA, open and closed ports.

Each test runs the real CLI on this machine as a management server, with the
endpoints file pointing at the local peers, and checks the findings by rule ID.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import yaml

from readiness.cli import main
from tests.netpeers import closed_port, dnsmasq, https_server, tcp_listener, tinyproxy
from tests.pki import TestCA

PORT_HOST = "127.0.0.2"  # a loopback address of its own, so 443/9443/80 can be really open or closed


@pytest.fixture(scope="module")
def peers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    work = tmp_path_factory.mktemp("net")
    ca = TestCA(work)
    rogue = TestCA(work, name="untrusted CA")
    good = ca.issue("srs.test", "ncsi.test", "mysql.test", "clock.test")
    bad = rogue.issue("untrusted.test")
    with ExitStack() as stack:
        good_port = stack.enter_context(https_server(good))
        bad_port = stack.enter_context(https_server(bad))
        skewed_port = stack.enter_context(https_server(good, skew_s=3600))
        dns = stack.enter_context(dnsmasq({"srs.test": "127.0.0.1", "ncsi.test": "127.0.0.1",
                                           "mysql.test": "127.0.0.1", "clock.test": "127.0.0.1",
                                           "untrusted.test": "127.0.0.1", "refused.test": "127.0.0.1"}, work))
        stack.enter_context(tcp_listener(PORT_HOST, 443))
        yield {"work": work, "ca": ca, "good": good_port, "bad": bad_port, "skewed": skewed_port, "dns": dns,
               "closed": closed_port()}


def endpoints_file(peers: dict[str, Any], name: str, endpoints: list[dict[str, str]], time_url: str) -> Path:
    path = peers["work"] / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"endpoints": endpoints, "port_check_host": PORT_HOST,
                                    "outbound_ports": [443, 9443, 80], "time_url": time_url}))
    return path


def run_scan(peers: dict[str, Any], endpoints: Path, *extra: str) -> tuple[int, dict[str, dict[str, Any]]]:
    report = peers["work"] / f"report-{endpoints.stem}.json"
    code = main(["scan", "--role", "management-server", "--endpoints", str(endpoints), "--no-proxy",
                 "--dns-server", peers["dns"], "--ca-bundle", str(peers["ca"].bundle), "--network-timeout", "3",
                 "--reporter", f"json:{report}", *extra])
    data = json.loads(report.read_text())
    findings = {f["rule_id"]: f for f in data["targets"][0]["findings"]}
    return code, findings


def test_reachable_endpoints_pass(peers: dict[str, Any]) -> None:
    good = peers["good"]
    path = endpoints_file(peers, "good", [
        {"id": "srs", "requirement": "MS-URL-001", "pattern": "*.hypervrecoverymanager.windowsazure.com",
         "url": f"https://srs.test:{good}/"},
        {"id": "ncsi", "requirement": "MS-URL-002", "url": f"https://ncsi.test:{good}/ncsi.txt"},
        {"id": "mysql", "requirement": "MS-URL-003", "url": f"https://mysql.test:{good}/mysql.msi"},
    ], time_url=f"https://clock.test:{good}/")
    _, findings = run_scan(peers, path)
    for rule in ("RN001", "RN002", "RN003", "RN008"):
        assert findings[rule]["status"] == "pass", findings[rule]
    assert findings["RN001"]["evidence"]["checked"] == ["srs.test"]
    assert abs(findings["RN008"]["evidence"]["skew_s"]) < 5
    # 443 answers on the port-check host, 9443 and 80 do not: real sockets decide.
    assert findings["RN005"]["status"] == "pass"
    assert findings["RN006"]["status"] == "fail" and "9443" in findings["RN006"]["message"]
    assert findings["RN004"]["status"] == "fail"
    # Our own listener on 127.0.0.2:443 occupies the orchestration port.
    assert findings["RN007"]["status"] == "fail" and "127.0.0.2:443" in findings["RN007"]["message"]
    assert findings["RN009"]["status"] == "not-applicable"


def test_each_failure_names_its_cause(peers: dict[str, Any]) -> None:
    good, bad, closed = peers["good"], peers["bad"], peers["closed"]
    path = endpoints_file(peers, "bad", [
        {"id": "srs", "requirement": "MS-URL-001", "pattern": "*.a", "url": f"https://srs.test:{good}/"},
        {"id": "acs", "requirement": "MS-URL-001", "pattern": "*.b", "url": f"https://untrusted.test:{bad}/"},
        {"id": "blob", "requirement": "MS-URL-001", "pattern": "*.c", "url": f"https://missing.test:{good}/"},
        {"id": "store", "requirement": "MS-URL-001", "pattern": "*.d", "url": f"https://refused.test:{closed}/"},
        {"id": "ncsi", "requirement": "MS-URL-002", "url": f"https://srs.test:{good}/missing-page-is-404"},
    ], time_url=f"https://clock.test:{peers['skewed']}/")
    code, findings = run_scan(peers, path)
    assert code == 1
    rn001 = findings["RN001"]
    assert rn001["status"] == "fail"
    unreachable = {e["host"]: e for e in rn001["evidence"]["unreachable"]}
    assert set(unreachable) == {"untrusted.test", "missing.test", "refused.test"}
    assert "CERTIFICATE_VERIFY_FAILED" in unreachable["untrusted.test"]["tls_error"]
    assert "untrusted.test (for *.b: SSLCertVerificationError" in rn001["message"]
    assert unreachable["missing.test"]["dns"] is False
    assert "Connection refused" in (unreachable["refused.test"]["tcp_error"] or "")
    assert "missing.test (for *.c: no DNS answer" in rn001["message"]
    # The test server answers 200 everywhere; a wrong path still answers, so only the status decides.
    assert findings["RN002"]["status"] == "pass"
    assert findings["RN003"]["status"] == "fail"  # no MySQL endpoint configured: honest fail, not a pass
    assert findings["RN008"]["status"] == "fail"
    assert -3610 < findings["RN008"]["evidence"]["skew_s"] < -3590  # our clock is an hour behind the reference


def test_management_server_reachability(peers: dict[str, Any], tmp_path: Path) -> None:
    host = "127.0.0.3"
    report = tmp_path / "lan.json"
    with tcp_listener(host, 443):
        code = main(["scan", "--role", "protected-linux", "--management-server", host,
                     "--reporter", f"json:{report}"])
    finding = {f["rule_id"]: f for f in json.loads(report.read_text())["targets"][0]["findings"]}["RN010"]
    assert finding["status"] == "fail"
    assert finding["evidence"]["failed"][0]["port"] == 9443
    assert "Connection refused" in finding["message"]
    assert code == 1
    with tcp_listener(host, 443), tcp_listener(host, 9443):
        main(["scan", "--role", "protected-linux", "--management-server", host, "--reporter", f"json:{report}"])
    finding = {f["rule_id"]: f for f in json.loads(report.read_text())["targets"][0]["findings"]}["RN010"]
    assert finding["status"] == "pass", finding


def test_through_an_authenticating_proxy(peers: dict[str, Any], tmp_path: Path) -> None:
    """tinyproxy with Basic auth passes one endpoint and filters the other; the password is never recorded."""
    issued = peers["ca"].issue("127.0.0.1", "127.0.0.4")
    with https_server(issued) as open_port, https_server(issued, host="127.0.0.4") as blocked_port, \
            tinyproxy(tmp_path, user="scanner", password="pr0xy-s3cret", deny=[r"^127\.0\.0\.4$"]) as proxy:
        path = endpoints_file(peers, "proxied", [
            {"id": "srs", "requirement": "MS-URL-001", "pattern": "*.x", "url": f"https://127.0.0.1:{open_port}/"},
            {"id": "acs", "requirement": "MS-URL-001", "pattern": "*.y", "url": f"https://127.0.0.4:{blocked_port}/"},
        ], time_url="")
        report = tmp_path / "proxy.json"
        main(["scan", "--role", "management-server", "--endpoints", str(path), "--proxy", proxy,
              "--ca-bundle", str(peers["ca"].bundle), "--network-timeout", "3", "--save-facts",
              str(tmp_path / "facts.json"), "--reporter", f"json:{report}"])
    text = report.read_text() + (tmp_path / "facts.json").read_text()
    assert "pr0xy-s3cret" not in text and "scanner" not in text
    findings = {f["rule_id"]: f for f in json.loads(report.read_text())["targets"][0]["findings"]}
    assert findings["RN009"]["status"] == "fail"
    assert findings["RN009"]["evidence"]["blocked"] == ["127.0.0.4"]
    assert "http://***@127.0.0.1:" in findings["RN009"]["message"]
    unreachable = findings["RN001"]["evidence"]["unreachable"]
    assert [e["host"] for e in unreachable] == ["127.0.0.4"]
    assert "proxy answered" in unreachable[0]["tcp_error"]
    # The clock came from the endpoint that answered through the proxy.
    assert findings["RN008"]["status"] == "pass"
