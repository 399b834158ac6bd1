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
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from winrm.exceptions import WinRMOperationTimeoutError, WSManFaultError
from winrm.protocol import Protocol

from readiness.checks.windows.collector import build_script
from readiness.errors import TargetError, UsageError
from readiness.settings import ScanSettings
from readiness.targets import parse_target
from readiness.transports.winrm import BOOTSTRAP, PASSWORD_ENV, WinRMTransport, clean_clixml, encoded_command
from tests.netpeers import closed_port, tcp_listener
from tests.pki import TestCA
from tests.reportschema import validate_report
from tests.wsman_server import (
    FAULT_INVALID_INPUT_STREAM,
    FAULT_SHELL_NOT_FOUND,
    WINRM2_MAX_ENVELOPE,
    Fault,
    WSManConfig,
    decoded_probe,
    wsman_endpoint,
)

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
    with wsman_endpoint(WSManConfig(basic=True, stdout=b"basic\r\n"), tmp_path, issued=pki["issued"]) as ep:
        winrm = transport(f"winrm://Administrator@127.0.0.1:{ep.port}?auth=basic", ca_bundle=pki["ca"].bundle)
        with winrm:
            assert winrm.run_script("x").stdout == "basic\r\n"
        assert set(ep.recorded.auth_headers) == {"Basic"}


@pytest.mark.parametrize(("user", "basic", "why"), [
    ("Administrator", False, "401 Basic is disabled"),  # the WinRM service default
    ("CORP\\svc-scan", True, "401 Basic is for local accounts only"),
    ("svc-scan@corp.example", True, "401 Basic is for local accounts only"),
])
def test_basic_is_off_by_default_and_for_local_accounts_only(tmp_path: Path, pki: dict, password: str, user: str,
                                                            basic: bool, why: str) -> None:
    users = {"Administrator": PASSWORD, "CORP\\svc-scan": PASSWORD, "svc-scan@corp.example": PASSWORD}
    with wsman_endpoint(WSManConfig(basic=basic, users=users), tmp_path, issued=pki["issued"]) as ep:
        uri = f"winrm://{user}@127.0.0.1:{ep.port}?auth=basic"
        with pytest.raises(TargetError, match=r"authentication failed \(HTTP 401\)"):
            transport(uri, ca_bundle=pki["ca"].bundle).open()
        assert ep.recorded.rejected == [why] and not ep.recorded.actions


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


def run_cli(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "readiness.cli", *args], capture_output=True, text=True,
                          cwd=REPO, env={**os.environ, **env}, timeout=timeout, check=False)


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


# ---------------------------------------------------------------- how real hosts behave (see tests/wsman_server.py)

#: What the bootstrap read before: fine on PowerShell 3+, nothing on a 2.0 host.
LEGACY_BOOTSTRAP = ("$readiness_b64=[Console]::In.ReadToEnd();"
                    "& ([ScriptBlock]::Create([Text.Encoding]::UTF8.GetString("
                    "[Convert]::FromBase64String($readiness_b64))))")


def test_a_powershell_2_host_gives_stdin_only_to_a_bootstrap_that_reads_input(tmp_path: Path, password: str,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    output = fixture_bytes("win2008r2-sp1")
    script = build_script(ScanSettings(), network=False)
    with wsman_endpoint(WSManConfig(stdout=output, powershell=2), tmp_path) as ep:
        uri = f"winrm://Administrator@127.0.0.1:{ep.port}?transport=http"
        with transport(uri) as winrm:
            assert winrm.run_script(script).stdout.encode() == output
        assert ep.recorded.stdin_delivered is True and "$input" in ep.recorded.bootstrap
        sent = len(ep.recorded.stdin)
        monkeypatch.setattr("readiness.transports.winrm.BOOTSTRAP", LEGACY_BOOTSTRAP)
        with transport(uri) as winrm:
            assert winrm.run_script(script).stdout == ""  # what [Console]::In.ReadToEnd() gets on 2.0
        assert ep.recorded.stdin_delivered is False and len(ep.recorded.stdin) == 2 * sent  # sent, never read


def raw_protocol(port: int) -> Protocol:
    return Protocol(endpoint=f"http://127.0.0.1:{port}/wsman", transport="ntlm", username="Administrator",
                    password=PASSWORD, message_encryption="always", read_timeout_sec=30, operation_timeout_sec=20,
                    server_cert_validation="ignore")


def test_the_endpoint_holds_output_until_stdin_ends_and_refuses_input_after_it(tmp_path: Path) -> None:
    """The fake host itself: a client that reads before closing stdin, or writes after, sees what Windows does."""
    with wsman_endpoint(WSManConfig(stdout=b"done\r\n"), tmp_path) as ep:
        protocol = raw_protocol(ep.port)
        shell = protocol.open_shell()
        command = protocol.run_command(shell, "powershell.exe", ["-EncodedCommand", encoded_command(BOOTSTRAP)])
        protocol.send_command_input(shell, command, b"AAAA")
        with pytest.raises(WinRMOperationTimeoutError):  # still reading stdin: no output yet
            protocol.get_command_output_raw(shell, command)
        protocol.send_command_input(shell, command, b"\r\n", end=True)
        with pytest.raises(WSManFaultError) as fault:
            protocol.send_command_input(shell, command, b"more")
        assert fault.value.wsman_fault_code == FAULT_INVALID_INPUT_STREAM
        assert protocol.get_command_output_raw(shell, command) == (b"done\r\n", b"", 0, True)
        protocol.close_shell(shell)


def test_sends_stay_under_the_winrm_2_envelope_and_a_bigger_one_is_refused(tmp_path: Path, password: str,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    script = "# " + "x" * 700_000  # far more than one 150 KB envelope
    with wsman_endpoint(WSManConfig(stdout=b"ok\r\n"), tmp_path) as ep:
        uri = f"winrm://Administrator@127.0.0.1:{ep.port}?transport=http"
        with transport(uri) as winrm:
            assert winrm.run_script(script).stdout == "ok\r\n"
        assert decoded_probe(ep.recorded) == script and ep.recorded.actions.count("send") > 5
        assert max(ep.recorded.request_sizes) <= WINRM2_MAX_ENVELOPE == 153600
        assert not [why for why in ep.recorded.rejected if why.startswith("413")]
        monkeypatch.setattr("readiness.transports.winrm.STDIN_CHUNK", 160 * 1024)  # a client that does not chunk
        with transport(uri) as winrm, pytest.raises(TargetError, match="HTTP 413 from the server"):
            winrm.run_script(script)
        assert [why for why in ep.recorded.rejected if why.startswith("413 ")]


def test_a_host_that_never_answers_a_receive_times_out_at_the_deadline(tmp_path: Path, password: str) -> None:
    with wsman_endpoint(WSManConfig(hang=frozenset({"receive"})), tmp_path) as ep:
        winrm = transport(f"winrm://Administrator@127.0.0.1:{ep.port}?transport=http", command_timeout_s=2)
        # the last wait was cut to what was left of the 2 s, not pywinrm's 30 s read timeout
        with winrm, pytest.raises(TargetError, match=r"timed out after 2 s \(--timeout\): .*request within [0-2] s"):
            winrm.run_script("x")
        assert ep.recorded.actions[-1] == "receive"  # nothing was sent to the silent host afterwards
        assert not ep.recorded.deleted_shells and not ep.recorded.signals


def test_a_host_that_accepts_tcp_and_never_answers_tls_fails_within_the_connect_timeout(password: str) -> None:
    with tcp_listener("127.0.0.1", 0) as port, pytest.raises(
            TargetError, match=r"no answer to the TLS handshake or first request within 1 s"):
        transport(f"winrm://Administrator@127.0.0.1:{port}", connect_timeout_s=1).open()


def test_close_from_another_thread_unblocks_a_receive_in_flight(tmp_path: Path, password: str) -> None:
    """What scan.py's watchdog does at a target's deadline: the worker's blocked read returns at once."""
    with wsman_endpoint(WSManConfig(hang=frozenset({"receive"})), tmp_path) as ep:
        winrm = transport(f"winrm://Administrator@127.0.0.1:{ep.port}?transport=http", command_timeout_s=600)
        winrm.open()
        watchdog = threading.Timer(1.0, winrm.close)
        watchdog.start()
        with pytest.raises(TargetError) as failure:
            winrm.run_script("x")
        watchdog.join()
        winrm.close()  # the worker's own close afterwards: nothing more is sent to the silent host
    assert "within" not in str(failure.value)  # cut by close(), not by a read timeout
    assert ep.recorded.actions[-1] == "receive" and not ep.recorded.deleted_shells


def test_scan_reports_silent_hosts_unknown_and_judges_the_good_one(tmp_path: Path) -> None:
    """Through the real CLI: a good host (a PowerShell 2.0 one), one that never answers a Receive, one that
    never answers TLS."""
    good = WSManConfig(stdout=fixture_bytes("win2012r2-dhcp"), powershell=2)
    with wsman_endpoint(good, tmp_path / "good") as ok, \
            wsman_endpoint(WSManConfig(hang=frozenset({"receive"})), tmp_path / "hang") as hung, \
            tcp_listener("127.0.0.1", 0) as silent:
        report = tmp_path / "r.json"
        proc = run_cli("scan", f"winrm://Administrator@127.0.0.1:{ok.port}?transport=http",
                       f"winrm://Administrator@127.0.0.1:{hung.port}?transport=http",
                       f"winrm://Administrator@127.0.0.1:{silent}", "--timeout", "3", "--connect-timeout", "2",
                       "--role", "management-server", "--reporter", f"json:{report}", env={PASSWORD_ENV: PASSWORD},
                       timeout=60)  # without deadlines the hung host alone holds the scan for minutes
    data = json.loads(report.read_text())
    validate_report(data)
    by_port = {t["target"].rsplit(":", 1)[1].split("?")[0]: t for t in data["targets"]}
    assert by_port[str(ok.port)]["status"] == "not-ready" and by_port[str(ok.port)]["error"] is None
    assert by_port[str(hung.port)]["status"] == "unknown"
    assert "WinRM probe timed out after 3 s (--timeout)" in by_port[str(hung.port)]["error"]
    assert by_port[str(silent)]["status"] == "unknown"
    assert "no answer to the TLS handshake or first request within 2 s" in by_port[str(silent)]["error"]
    assert proc.returncode == 1, proc.stderr  # the good host is not ready; the others are reported, not fatal
