"""Network rules against real peers on loopback: dnsmasq, HTTPS servers with our own CA, open and closed ports.

Each test runs the real CLI on this machine as a management server, with the
endpoints file pointing at the local peers, and checks the findings by rule ID.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from readiness.checks.clock import skew
from readiness.checks.linux import netprobe
from readiness.cli import main
from readiness.settings import Endpoint, NetworkSettings, ScanSettings
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


def test_through_an_authenticating_proxy(peers: dict[str, Any], tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """tinyproxy with Basic auth passes one endpoint and filters the other; the password (from the environment,
    never the URL) is never recorded."""
    monkeypatch.setenv("READINESS_PROXY_PASSWORD", "pr0xy-s3cret")
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


def test_a_password_in_the_proxy_url_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["scan", "--proxy", "http://scanner:pr0xy-s3cret@127.0.0.1:3128", "--role", "management-server"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "READINESS_PROXY_PASSWORD" in err
    assert "pr0xy-s3cret" not in err


@pytest.mark.parametrize("value", ["ftp://127.0.0.1:21", "http://127.0.0.1", "http://127.0.0.1:port", "http://:3128"])
def test_a_malformed_proxy_is_a_usage_error(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "--proxy", value, "--role", "management-server"]) == 2
    assert capsys.readouterr().err.startswith("readiness: error: --proxy")


# -- parsers are total: whatever a server or a target sends, a value or a recorded gap, never an exception ---------

DATES = st.one_of(
    st.text(max_size=60),
    st.builds("{}, {:02d} {} {} {:02d}:{:02d}:{:02d} {}".format,
              st.sampled_from(["Mon", "Wed", "Xyz"]), st.integers(0, 99), st.sampled_from(["Jan", "Dec", "Foo"]),
              st.integers(-10, 10**30), st.integers(0, 99), st.integers(0, 99), st.integers(0, 99),
              st.sampled_from(["GMT", "+0000", "-2359", "+9999", "UT", ""])))


@settings(max_examples=300, deadline=None)
@given(date=DATES, epoch=st.one_of(st.none(), st.integers(-(10**20), 10**20), st.floats()))
def test_clock_skew_is_total(date: str, epoch: float | None) -> None:
    result = skew("https://clock.test/", date, epoch, None)
    assert set(result) >= {"reference", "skew_s", "error"}
    assert (result["skew_s"] is None) != (result["error"] is None)
    if result["skew_s"] is not None:
        assert math.isfinite(result["skew_s"])


def test_a_huge_year_in_the_date_header_is_a_recorded_error() -> None:
    for date in ("Wed, 02 Dec 99999999 18:00:00 GMT", "Wed, 02 Dec 99999999999999999999999 18:00:00 GMT"):
        result = skew("https://clock.test/", date, 1.0e9, None)
        assert result["skew_s"] is None and result["error"].startswith("unreadable Date header"), result


NET_SETTINGS = ScanSettings(management_server="10.0.0.5", network=NetworkSettings(
    endpoints=[Endpoint(id="srs", url="https://srs.test/", requirement="MS-URL-001")], port_check_host="p.test",
    outbound_ports=[443, 9443], time_url="https://clock.test/"))
RECORD = st.lists(st.one_of(st.text(alphabet="\tnp0123456789e.:-/abc_ ", max_size=12), st.sampled_from(
    ["np", "tools", "dns", "tcp", "http", "env", "done", "endpoint", "e0", "port", "lan", "time", "p.test:443",
     "10.0.0.5:443", "1", "0", "", "-1", "--5", "²", "curl=1", "bash=0"])), max_size=10).map("\t".join)


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(st.one_of(RECORD, st.just(netprobe.MARK_END), st.text(max_size=40)), max_size=25))
def test_the_network_probe_parser_is_total(lines: list[str]) -> None:
    facts, gaps = netprobe.parse_net("\n".join(lines), NET_SETTINGS)
    assert set(facts) == {"connectivity", "lan"}
    assert all(isinstance(reason, str) and reason for reason in gaps.values())
    if netprobe.MARK_END not in lines:
        assert "connectivity.endpoints" in gaps and "lan.ports" in gaps


def test_a_check_that_never_reported_back_is_unknown_not_failed() -> None:
    """The trailer arrived, but one port check's records did not: that section is a gap, the others stand."""
    raw = "\n".join([
        "np\ttools\tbash=1\tcurl=1\twget=0\tnc=0\tgetent=1\tnslookup=0\ttimeout=1",
        "np\tdns\tsrs.test\t1\t127.0.0.1\t3\t\tgetent",
        "np\ttcp\tendpoint\te0\tsrs.test\t443\t1\t4\t\tbash",
        "np\thttp\te0\t200\t9\t\t1700000000\tok\tcurl\tWed, 02 Dec 2026 18:00:00 GMT",
        "np\tdone\tendpoint\te0",
        "np\ttcp\tport\tp.test:443\tp.test\t443\t1\t2\t\tbash", "np\tdone\tport\tp.test:443",
        "np\ttcp\tlan\t10.0.0.5:443\t10.0.0.5\t443\t0\t2\trefused\tbash", "np\tdone\tlan\t10.0.0.5:443",
        "np\ttcp\tlan\t10.0.0.5:9443\t10.0.0.5\t9443\t0\t2\trefused\tbash", "np\tdone\tlan\t10.0.0.5:9443",
        "np\thttp\ttime\t200\t9\t\t1700000000\tok\tcurl\tWed, 02 Dec 2026 18:00:00 GMT",
        "np\tdone\ttime\ttime", netprobe.MARK_END])
    facts, gaps = netprobe.parse_net(raw, NET_SETTINGS)
    assert set(gaps) == {"connectivity.outbound_ports"}, gaps
    assert "p.test:9443 (port) did not report back" in gaps["connectivity.outbound_ports"]
    assert facts["connectivity"]["endpoints"][0]["reachable"] is True
    assert [p["ok"] for p in facts["lan"]["ports"]] == [False, False]


def test_the_proxy_password_reaches_curl_only_through_its_stdin_config() -> None:
    net = NetworkSettings(proxy="http://scan%40ner@proxy.test:3128", proxy_password='p"a\\ss')
    config = netprobe.curl_proxy_config(net)
    assert config == 'proxy = "http://proxy.test:3128"\nproxy-user = "scan@ner:p\\"a\\\\ss"'
    assert net.proxy_with_password() == "http://scan%40ner:p%22a%5Css@proxy.test:3128"
    assert "a\\ss" not in repr(net) and "a\\ss" not in repr(ScanSettings(network=net))
    plan = netprobe.plan(ScanSettings(network=net, management_server="10.0.0.5"), False, {"lan"})
    assert plan is not None and "--proxy" not in plan.script


def test_the_management_server_reaches_vcenter_on_443(peers: dict[str, Any]) -> None:
    """VC-NET-001 (RN050): a real listener on 443 passes, the same address without one fails, no --vcenter is n/a."""
    host = "127.0.0.51"
    path = endpoints_file(peers, "vcenter", [], time_url="")
    with tcp_listener(host, 443):
        _code, findings = run_scan(peers, path, "--vcenter", host)
    assert findings["RN050"]["status"] == "pass", findings["RN050"]
    assert findings["RN050"]["message"].startswith(f"reached {host} on 443")
    _code, findings = run_scan(peers, path, "--vcenter", host)
    assert findings["RN050"]["status"] == "fail" and "refused" in findings["RN050"]["message"], findings["RN050"]
    assert findings["RN050"]["evidence"]["vcenter"] == host
    _code, findings = run_scan(peers, path)
    assert findings["RN050"]["status"] == "not-applicable"
