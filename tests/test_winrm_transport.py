"""The WinRM transport against a real WS-Management peer on loopback (tests/wsman_server.py).

No Windows host takes part: the peer parses the envelopes pywinrm sends, does a real NTLM handshake
(pyspnego's acceptor) and NTLM message sealing on HTTP, serves HTTPS with a test CA, and replays a
captured probe output instead of running anything.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from checks.windows.collector import build_script
from readiness.errors import TargetError, UsageError
from readiness.settings import ScanSettings
from readiness.targets import parse_target
from readiness.transports.winrm import BOOTSTRAP, PASSWORD_ENV, WinRMTransport, clean_clixml
from tests.netpeers import closed_port
from tests.pki import TestCA
from tests.reportschema import validate_report
from tests.wsman_server import FAULT_SHELL_NOT_FOUND, Fault, WSManConfig, decoded_probe, wsman_endpoint

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "windows"
PASSWORD = "Sup3r-Secret!"
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    ca = TestCA(tmp_path_factory.mktemp("winrm-pki"))
    rogue = TestCA(tmp_path_factory.mktemp("rogue-pki"), name="rogue CA")
    return {"ca": ca, "issued": ca.issue("127.0.0.1", "localhost"), "rogue": rogue.issue("127.0.0.1")}


@pytest.fixture()
def password(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    yield PASSWORD


def transport(uri: str, **settings: object) -> WinRMTransport:
    return WinRMTransport(parse_target(uri), ScanSettings(**settings))  # type: ignore[arg-type]


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / f"{name}.txt").read_bytes()


def test_ntlm_over_http_seals_every_message_and_delivers_the_probe_intact(tmp_path: Path, password: str) -> None:
    output = fixture_bytes("win2012r2")
    config = WSManConfig(stdout=output, chunk=3000, timeouts_first=2)
    script = build_script(ScanSettings(), network=True)
    with wsman_endpoint(config, tmp_path) as ep:
        winrm = transport(f"winrm://Administrator@127.0.0.1:{ep.port}?transport=http")
        with winrm:
            result = winrm.run_script(script, "powershell")
        recorded = ep.recorded
    assert result.stdout.encode() == output and result.exit_status == 0
    assert len(output) > 3 * config.chunk  # really reassembled from several Receive answers
    assert recorded.actions.count("receive") >= 2 + len(output) // config.chunk  # two timeouts retried
    assert decoded_probe(recorded) == script and recorded.stdin_ended
    assert recorded.actions.count("send") > 1  # the probe went over stdin in several chunks
    (command, arguments), = recorded.commands
    assert command == "powershell.exe" and arguments[:5] == ["-NoProfile", "-NonInteractive", "-ExecutionPolicy",
                                                             "Bypass", "-EncodedCommand"]
    assert base64.b64decode(arguments[5]).decode("utf-16-le") == BOOTSTRAP
    assert len(" ".join([command, *arguments])) < 8191  # cmd.exe's command-line limit
    assert recorded.encrypted and all(recorded.encrypted)  # NTLM sealing on plain HTTP, every envelope
    assert set(recorded.auth_headers) == {"NTLM"}
    assert recorded.signals == ["http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/terminate"]
    assert recorded.deleted_shells and not recorded.open_shells
    assert recorded.shell_options == {"WINRS_NOPROFILE": "TRUE", "WINRS_CODEPAGE": "437"}
    assert any("plain HTTP" in note for note in winrm.notes)


def test_https_verifies_the_server_against_the_ca_bundle(tmp_path: Path, pki: dict, password: str) -> None:
    with wsman_endpoint(WSManConfig(stdout=b"hello\r\n"), tmp_path, issued=pki["issued"]) as ep:
        winrm = transport(f"winrm://Administrator@127.0.0.1:{ep.port}", ca_bundle=pki["ca"].bundle)
        with winrm:
            assert winrm.run_script("Write-Output hello").stdout == "hello\r\n"
        assert ep.recorded.encrypted == [False] * len(ep.recorded.encrypted)  # TLS protects it; no double sealing
        assert winrm.notes == []
        with pytest.raises(TargetError, match=r"TLS failed: .*certificate verify failed.*--ca-bundle"):
            transport(f"winrm://Administrator@127.0.0.1:{ep.port}").open()  # system CAs do not know the test CA


def test_an_untrusted_certificate_fails_unless_insecure_and_then_it_is_noted(tmp_path: Path, pki: dict,
                                                                              password: str) -> None:
    with wsman_endpoint(WSManConfig(stdout=b"ok\r\n"), tmp_path, issued=pki["rogue"]) as ep:
        uri = f"winrm://Administrator@127.0.0.1:{ep.port}"
        with pytest.raises(TargetError, match="TLS failed"):
            transport(uri, ca_bundle=pki["ca"].bundle).open()
        winrm = transport(uri, insecure=True)
        with winrm:
            assert winrm.run_script("x").stdout == "ok\r\n"
        assert winrm.notes == ["WinRM TLS certificate not verified (--insecure)"]


def test_wrong_password_is_a_401(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "wrong")
    with wsman_endpoint(WSManConfig(), tmp_path) as ep:
        with pytest.raises(TargetError, match=r"authentication failed \(HTTP 401\) for Administrator with ntlm"):
            transport(f"winrm://Administrator@127.0.0.1:{ep.port}?transport=http").open()
        assert not ep.recorded.actions  # nothing got past authentication


def test_basic_auth_over_https(tmp_path: Path, pki: dict, password: str) -> None:
    with wsman_endpoint(WSManConfig(auth="basic", stdout=b"basic\r\n"), tmp_path, issued=pki["issued"]) as ep:
        winrm = transport(f"winrm://Administrator@127.0.0.1:{ep.port}?auth=basic", ca_bundle=pki["ca"].bundle)
        with winrm:
            assert winrm.run_script("x").stdout == "basic\r\n"
        assert set(ep.recorded.auth_headers) == {"Basic"}


def test_unreachable_host_is_a_clear_error(password: str) -> None:
    port = closed_port()
    with pytest.raises(TargetError, match=rf"cannot connect to WinRM at 127.0.0.1:{port}: .*refused"):
        transport(f"winrm://Administrator@127.0.0.1:{port}").open()


def test_soap_fault_reason_and_code_reach_the_message(tmp_path: Path, password: str) -> None:
    fault = Fault(2147942402, "The system cannot find the file specified.")
    with wsman_endpoint(WSManConfig(faults={"command": fault}), tmp_path) as ep:
        winrm = transport(f"winrm://Administrator@127.0.0.1:{ep.port}?transport=http")
        with winrm, pytest.raises(TargetError, match=r"cannot find the file specified\. \(WS-Management fault "
                                                     r"2147942402\)"):
            winrm.run_script("x")
        assert ep.recorded.deleted_shells  # the shell is still closed


def test_unknown_shell_fault(tmp_path: Path, password: str) -> None:
    with wsman_endpoint(WSManConfig(), tmp_path) as ep:
        winrm = transport(f"winrm://Administrator@127.0.0.1:{ep.port}?transport=http")
        with winrm:
            winrm._shell = "00000000-0000-0000-0000-000000000000"
            with pytest.raises(TargetError, match=f"shell was not found on the server. .*{FAULT_SHELL_NOT_FOUND}"):
                winrm.run_script("x")


def test_command_timeout(tmp_path: Path, password: str) -> None:
    with wsman_endpoint(WSManConfig(stdout=b"late", timeouts_first=10**6), tmp_path) as ep:
        winrm = transport(f"winrm://Administrator@127.0.0.1:{ep.port}?transport=http", command_timeout_s=0.5)
        with winrm, pytest.raises(TargetError, match=r"timed out after 0 s|timed out after 1 s"):
            winrm.run_script("x")


@pytest.mark.parametrize(("uri", "needle"), [
    ("winrm://u@h?transport=http&auth=basic", "basic over plain HTTP would send the password"),
    ("winrm://u@h?auth=digest", "unknown auth 'digest'"),
    ("winrm://u@h?transport=ftp", "transport must be https or http"),
])
def test_unsafe_or_unknown_options_are_usage_errors(uri: str, needle: str) -> None:
    with pytest.raises(UsageError, match=needle):
        transport(uri)


def test_http_without_a_port_uses_5985_and_https_5986() -> None:
    assert transport("winrm://u@h?transport=http").endpoint == "http://h:5985/wsman"
    assert transport("winrm://u@h").endpoint == "https://h:5986/wsman"
    assert transport("winrm://u@[fe80::1]:5999").endpoint == "https://[fe80::1]:5999/wsman"


def test_no_password_and_no_terminal_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    monkeypatch.setattr(sys, "stdin", open(os.devnull))  # noqa: SIM115 - closed with the test process
    with wsman_endpoint(WSManConfig(), tmp_path) as ep, pytest.raises(
            TargetError, match=f"no WinRM password for Administrator@127.0.0.1: set {PASSWORD_ENV}"):
        transport(f"winrm://Administrator@127.0.0.1:{ep.port}?transport=http").open()


@pytest.mark.parametrize("auth", ["kerberos", "credssp"])
def test_kerberos_and_credssp_without_their_extras_say_what_to_install(tmp_path: Path, password: str,
                                                                       auth: str) -> None:
    import winrm.transport

    if getattr(winrm.transport, f"HAVE_{auth.upper()}"):
        pytest.skip(f"the {auth} extra is installed here")
    with wsman_endpoint(WSManConfig(), tmp_path) as ep, pytest.raises(
            TargetError, match=rf"{auth}.* is not installed \(pip install 'readiness\[winrm-{auth}\]'\)"):
        transport(f"winrm://Administrator@127.0.0.1:{ep.port}?transport=http&auth={auth}").open()


def test_clixml_stderr_is_made_readable() -> None:
    stderr = ('#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
              '<S S="Error">Get-WmiObject : Access denied _x000D__x000A_</S><S S="Error">At line:1 char:1_x000D__x000A_'
              '</S></Objs>')
    assert clean_clixml(stderr) == "Get-WmiObject : Access denied At line:1 char:1"
    assert clean_clixml("plain text") == "plain text"


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "readiness.cli", *args], capture_output=True, text=True,
                          cwd=REPO, env={**os.environ, **env}, timeout=120, check=False)


def test_scan_over_winrm_end_to_end(tmp_path: Path) -> None:
    """The real CLI scans the endpoint: facts from the replayed probe, rules, report, no password anywhere."""
    with wsman_endpoint(WSManConfig(stdout=fixture_bytes("win2012r2-dhcp")), tmp_path) as ep:
        report, facts = tmp_path / "r.json", tmp_path / "facts.json"
        proc = run_cli("scan", f"winrm://Administrator@127.0.0.1:{ep.port}?transport=http",
                       "--role", "management-server", "--cache-drive", "E:", "--reporter", f"json:{report}",
                       "--save-facts", str(facts), env={PASSWORD_ENV: PASSWORD})
    assert proc.returncode == 1, proc.stderr  # not ready: DHCP and a 19-character name are blockers
    data = json.loads(report.read_text())
    validate_report(data)
    (target,) = data["targets"]
    status = {f["rule_id"]: f["status"] for f in target["findings"]}
    assert status["RM203"] == "fail" and status["RM204"] == "fail"  # MS-IP-001, MS-NAME-001
    assert status["RM201"] == "pass" and status["RM202"] == "pass" and status["RM205"] == "pass"
    assert status["RM211"] == "pass" and status["RM212"] == "pass"  # E: has 688 GB free
    assert status["RN001"] == "pass" and status["RN007"] == "pass"  # network facts came from the target itself
    assert any("plain HTTP" in note for note in target["notes"])
    assert PASSWORD not in report.read_text() and PASSWORD not in facts.read_text()
    assert PASSWORD not in proc.stdout + proc.stderr


def test_scan_of_a_broken_probe_is_unknown_with_the_powershell_error(tmp_path: Path) -> None:
    stderr = (b'#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
              b'<S S="Error">Program \'powershell.exe\' failed to run: Access is denied_x000D__x000A_</S></Objs>')
    with wsman_endpoint(WSManConfig(stdout=b"", stderr=stderr, exit_code=1), tmp_path) as ep:
        report = tmp_path / "r.json"
        proc = run_cli("scan", f"winrm://Administrator@127.0.0.1:{ep.port}?transport=http",
                       "--reporter", f"json:{report}", env={PASSWORD_ENV: PASSWORD})
    assert proc.returncode == 3, proc.stderr  # nothing could be judged
    (target,) = json.loads(report.read_text())["targets"]
    assert target["status"] == "unknown"
    assert "PowerShell probe failed (exit 1)" in target["error"] and "Access is denied" in target["error"]
