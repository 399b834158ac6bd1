"""The SSH transport against real OpenSSH servers on 127.0.0.1, bad hosts included.

Every way a host can be bad (refused, silent, unknown or changed host key,
wrong password, sudo wanting a password, garbage, a probe that never ends,
output without end) must end as an `unknown` target with a sentence that says
which, inside the timeouts, and never leak the password.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest

from readiness.cli import main
from readiness.facts import TargetFacts
from readiness.rulepack import default_rules
from readiness.scan import collect_target, scan
from readiness.settings import Endpoint, NetworkSettings, ScanSettings
from readiness.targets import parse_target
from tests.netpeers import https_server, tcp_listener
from tests.pki import TestCA
from tests.sshd_hosts import SilentListener, SshLab, free_port

RULES = list(default_rules())


def quiet_network() -> NetworkSettings:
    """No endpoint and loopback-only port checks: these tests are about the transport."""
    return NetworkSettings(endpoints=[], port_check_host="127.0.0.1", outbound_ports=[], timeout_s=2)


@pytest.fixture(scope="module")
def lab() -> Iterator[SshLab]:
    lab = SshLab()
    try:
        lab.start("plain")
        lab.start("untrusted", trusted=False)
        mismatch = lab.start("mismatch", trusted=False)
        lab.trust(mismatch, key=lab.other_host_key)
        lab.start("garbage", extra="ForceCommand echo 'Welcome to the jungle'; echo 'no markers here'\n")
        lab.start("hang", extra="ForceCommand sleep 600\n")
        lab.start("flood", extra="ForceCommand yes readiness-flood\n")
        yield lab
    finally:
        lab.close()


def settings(lab: SshLab, **kw: object) -> ScanSettings:
    base = {"ssh_config": lab.ssh_config, "connect_timeout_s": 3.0, "command_timeout_s": 30.0,
            "network": quiet_network()}
    base.update(kw)
    return ScanSettings(**base)  # type: ignore[arg-type]


def collect(uri: str, lab: SshLab, **kw: object) -> TargetFacts:
    return collect_target(parse_target(uri), settings(lab, **kw), RULES)[0]


def test_key_auth_through_ssh_config_gives_the_local_facts(lab: SshLab) -> None:
    """ssh_config alias -> HostName/Port/User/IdentityFile/UserKnownHostsFile; same facts as local://."""
    remote = collect("ssh://plain", lab)
    local = collect("local://", lab)
    assert remote.error is None, remote.error
    assert remote.facts["probe"]["transport"] == "ssh" and remote.facts["probe"]["user"] == lab.user
    for namespace in ("os", "boot"):
        assert remote.facts[namespace] == local.facts[namespace]
    assert remote.facts["host"]["hostname"] == local.facts["host"]["hostname"]
    assert remote.facts["packages"]["count"] == local.facts["packages"]["count"] > 0
    assert remote.facts["storage"]["disk_count"] == local.facts["storage"]["disk_count"]
    assert remote.duration_s > 0 and not remote.notes


def test_password_from_the_environment(lab: SshLab, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("READINESS_SSH_PASSWORD", lab.password)
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no default keys either: only the password can work
    port = lab.hosts["plain"].port
    result = collect(f"ssh://{lab.user}@127.0.0.1:{port}", lab, ssh_config=tmp_path / "none")
    assert result.error is None or "known_hosts" in result.error
    # Host keys are still checked without an ssh_config: trust it through the default file, then retry.
    (tmp_path / ".ssh").mkdir()
    shutil.copy(lab.known_hosts, tmp_path / ".ssh" / "known_hosts")
    result = collect(f"ssh://{lab.user}@127.0.0.1:{port}", lab, ssh_config=tmp_path / "none")
    assert result.error is None, result.error
    assert result.facts["probe"]["user"] == lab.user


def test_wrong_password_is_an_auth_failure_that_never_shows_the_password(
        lab: SshLab, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    wrong = "Not-The-Password-42"
    monkeypatch.setenv("READINESS_SSH_PASSWORD", wrong)
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".ssh").mkdir()
    shutil.copy(lab.known_hosts, tmp_path / ".ssh" / "known_hosts")
    result = collect(f"ssh://{lab.user}@127.0.0.1:{lab.hosts['plain'].port}", lab, ssh_config=tmp_path / "none")
    assert result.error is not None and "authentication failed" in result.error
    assert "password" in result.error and wrong not in result.error
    assert wrong not in repr(result.to_json())


def test_encrypted_key_with_passphrase_from_the_environment(lab: SshLab, monkeypatch: pytest.MonkeyPatch) -> None:
    key = lab.keygen_encrypted("id_locked", "correct horse battery")
    authorized = lab.dir / "authorized_keys" / lab.user
    authorized.write_text(authorized.read_text() + Path(f"{key}.pub").read_text())
    monkeypatch.delenv("READINESS_SSH_PASSWORD", raising=False)
    monkeypatch.setenv("READINESS_SSH_KEY_PASSPHRASE", "wrong phrase")
    port = lab.hosts["plain"].port
    uri = f"ssh://{lab.user}@plain:{port}?key={key}"
    failed = collect(uri, lab)
    assert failed.error is not None and f"key {key} (wrong passphrase)" in failed.error
    monkeypatch.setenv("READINESS_SSH_KEY_PASSPHRASE", "correct horse battery")
    assert collect(uri, lab).error is None


def test_refused_port(lab: SshLab) -> None:
    port = free_port()
    result = collect(f"ssh://{lab.user}@127.0.0.1:{port}", lab)
    assert result.error == f"{lab.user}@127.0.0.1:{port}: connection refused (nothing listens on port {port})"


def test_silent_listener_times_out_inside_the_connect_timeout(lab: SshLab) -> None:
    silent = SilentListener()
    try:
        start = time.monotonic()
        result = collect(f"ssh://{lab.user}@127.0.0.1:{silent.port}", lab, connect_timeout_s=2.0)
        elapsed = time.monotonic() - start
    finally:
        silent.close()
    assert result.error is not None and "never speaks SSH" in result.error, result.error
    assert elapsed < 5


def test_unknown_host_key_is_rejected_by_default(lab: SshLab) -> None:
    result = collect("ssh://untrusted", lab)
    assert result.error is not None and "host key not in known_hosts" in result.error
    assert "--accept-new-host-keys" in result.error and "SHA256:" in result.error


def test_accept_new_records_the_key_and_the_report_says_so(lab: SshLab) -> None:
    host = lab.start("newcomer", trusted=False)
    first = collect("ssh://newcomer", lab, accept_new_host_keys=True)
    assert first.error is None, first.error
    assert any("new host key accepted for 127.0.0.1:" in n and "--accept-new-host-keys" in n for n in first.notes)
    assert f"[127.0.0.1]:{host.port} ssh-ed25519 " in lab.known_hosts.read_text()
    again = collect("ssh://newcomer", lab)  # now known: no flag needed, nothing to note
    assert again.error is None and not again.notes


def test_changed_host_key_is_refused_even_with_accept_new(lab: SshLab) -> None:
    result = collect("ssh://mismatch", lab, accept_new_host_keys=True)
    assert result.error is not None and "HOST KEY MISMATCH" in result.error
    assert not result.notes


def test_garbage_output_is_unknown_with_an_excerpt(lab: SshLab) -> None:
    result = collect("ssh://garbage", lab)
    assert result.error is not None and result.error.startswith("garbage from the probe")
    assert "Welcome to the jungle" in result.error


def test_probe_that_never_ends_hits_the_command_timeout(lab: SshLab) -> None:
    start = time.monotonic()
    result = collect("ssh://hang", lab, command_timeout_s=2.0)
    assert result.error == "the probe did not finish within 2 s"
    assert time.monotonic() - start < 6


def test_output_without_end_hits_the_cap(lab: SshLab) -> None:
    result = collect("ssh://flood", lab, max_output_bytes=1 << 20)
    assert result.error == f"probe output exceeds the {1 << 20} byte cap (settings.max_output_bytes)"


def test_proxyjump_reaches_a_host_through_another(lab: SshLab) -> None:
    """The inner host only exists behind the jump host's name in ssh_config; ProxyJump gets there."""
    lab.add_alias("behind-jump", lab.hosts["plain"], ProxyJump="the-jump-host")
    lab.start("the-jump-host")
    result = collect("ssh://behind-jump", lab)
    assert result.error is None, result.error
    assert result.facts["probe"]["user"] == lab.user
    # A chain of two jump hosts; a broken second hop is named in the reason.
    lab.start("second-jump")
    lab.add_alias("behind-two", lab.hosts["plain"], ProxyJump="the-jump-host,second-jump")
    assert collect("ssh://behind-two", lab).error is None
    lab.add_alias("behind-broken", lab.hosts["plain"], ProxyJump="the-jump-host,untrusted")
    broken = collect("ssh://behind-broken", lab)
    assert broken.error is not None and "host key not in known_hosts" in broken.error


def test_one_bad_host_never_stops_the_estate(lab: SshLab) -> None:
    """Mixed good and bad targets on the pool: all come back, each with its own outcome, in time."""
    silent = SilentListener()
    uris = ["ssh://plain", "ssh://untrusted", "ssh://garbage", f"ssh://{lab.user}@127.0.0.1:{free_port()}",
            f"ssh://{lab.user}@127.0.0.1:{silent.port}", "ssh://mismatch"]
    try:
        start = time.monotonic()
        results = list(scan([parse_target(u) for u in uris], settings(lab, connect_timeout_s=2.0), RULES, workers=8))
        elapsed = time.monotonic() - start
    finally:
        silent.close()
    assert len(results) == len(uris)
    by_uri = {r.uri: r for r in results}
    assert by_uri["ssh://plain"].error is None
    assert sum(1 for r in results if r.error) == len(uris) - 1
    assert elapsed < 8


@pytest.fixture(scope="module")
def sudo_lab(lab: SshLab) -> Iterator[SshLab]:
    """The lab user with sudo: NOPASSWD for the probe shell on one sshd, a password-wanting rule on another."""
    if shutil.which("sudo") is None:
        pytest.fail("sudo is not installed (tests/run.sh installs it)")
    drop_in = Path(f"/etc/sudoers.d/readiness-test-{lab.user}")
    drop_in.write_text(f"{lab.user} ALL=(root) NOPASSWD: /bin/sh\n")
    drop_in.chmod(0o440)
    subprocess.run(["visudo", "-c", "-f", str(drop_in)], check=True, capture_output=True)
    try:
        yield lab
    finally:
        drop_in.unlink()


def test_become_runs_the_probe_as_root(sudo_lab: SshLab) -> None:
    result = collect("ssh://plain?become=yes", sudo_lab)
    assert result.error is None, result.error
    assert result.facts["probe"]["uid"] == 0 and result.facts["probe"]["user"] == "root"


def test_become_without_nopasswd_is_a_clear_reason_not_a_hang(sudo_lab: SshLab) -> None:
    drop_in = Path(f"/etc/sudoers.d/readiness-test-{sudo_lab.user}")
    drop_in.write_text(f"{sudo_lab.user} ALL=(root) ALL\n")
    start = time.monotonic()
    result = collect("ssh://plain", sudo_lab, become=True)
    assert result.error is not None and result.error.startswith("--become: sudo wants a password for"), result.error
    assert time.monotonic() - start < 5


def test_old_openssh_that_speaks_only_sha1_rsa(lab: SshLab, tmp_path: Path) -> None:
    """CentOS 6's OpenSSH 5.3: RSA host key signed with SHA-1 (ssh-rsa), SHA-1 kex and MAC, RSA user keys.

    Debian's sshd restricted to exactly those algorithms stands in for it; paramiko 5 cannot talk to
    it at all (which is why pyproject pins paramiko < 5).
    """
    host_key = lab.dir / "old_rsa_host"
    user_key = lab.dir / "id_rsa_old"
    for path in (host_key, user_key):
        subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", str(path)], check=True)
    authorized = lab.dir / "authorized_keys" / lab.user
    authorized.write_text(authorized.read_text() + Path(f"{user_key}.pub").read_text())
    old = lab.start("centos6-crypto", host_key=host_key, trusted=False, extra=(
        "HostKeyAlgorithms ssh-rsa\nPubkeyAcceptedAlgorithms ssh-rsa\nCiphers aes128-ctr,aes128-cbc\n"
        "MACs hmac-sha1\nKexAlgorithms diffie-hellman-group-exchange-sha256,diffie-hellman-group14-sha1\n"))
    lab.trust(old, key=host_key)
    result = collect(f"ssh://{lab.user}@centos6-crypto?key={user_key}", lab)
    assert result.error is None, result.error
    assert result.facts["probe"]["user"] == lab.user


def test_network_is_measured_from_the_target_with_bash_and_curl(lab: SshLab, tmp_path: Path) -> None:
    """On a full Linux (bash, curl): ports through bash /dev/tcp, URLs through curl, which verifies TLS
    against the TARGET's trust store, so our test CA's certificate is rightly refused there."""
    ca = TestCA(tmp_path)
    issued = ca.issue("127.0.0.1")
    closed = free_port()
    with https_server(None) as plain, https_server(issued) as tls, tcp_listener("127.0.0.1", 0) as open_port, \
            tcp_listener("127.0.0.52", 443):
        net = NetworkSettings(endpoints=[
            Endpoint(id="web", url=f"http://127.0.0.1:{plain}/", requirement="MS-URL-001"),
            Endpoint(id="tls", url=f"https://127.0.0.1:{tls}/", requirement="MS-URL-001"),
            Endpoint(id="closed", url=f"https://127.0.0.1:{closed}/", requirement="MS-URL-001")],
            port_check_host="127.0.0.1", outbound_ports=[open_port, closed], timeout_s=2,
            time_url=f"http://127.0.0.1:{plain}/")
        result = collect("ssh://plain", lab, network=net, roles=["process-server"], management_server="127.0.0.1",
                         vcenter="127.0.0.52")
    assert result.error is None, result.error
    conn = result.facts["connectivity"]
    web, untrusted, refused = conn["endpoints"]
    assert web["reachable"] and web["http"]["status"] == 200 and web["http"]["tool"] == "curl"
    assert web["tcp"] == {"ok": True, "ms": web["tcp"]["ms"], "error": None, "tool": "bash"}
    assert not untrusted["reachable"] and untrusted["tls"]["ok"] is False and untrusted["http"]["tls_error"]
    assert "certificate" in untrusted["tls"]["error"]
    assert not refused["reachable"] and refused["tls"] is None and "refused" in refused["tcp"]["error"]
    assert [(p["port"], p["ok"]) for p in conn["outbound_ports"]] == [(open_port, True), (closed, False)]
    assert abs(conn["clock"]["skew_s"]) <= 2 and conn["clock"]["reference"] == f"http://127.0.0.1:{plain}/"
    # --management-server: 443 and 9443 on 127.0.0.1 (nothing there), from the target too.
    assert [(p["port"], p["ok"]) for p in result.facts["lan"]["ports"]] == [(443, False), (9443, False)]
    # --vcenter (VC-NET-001): 443 on the named host, measured from the target as well.
    vcenter = result.facts["lan"]["vcenter"]
    assert (vcenter["host"], vcenter["port"], vcenter["ok"]) == ("127.0.0.52", 443, True), vcenter
    # every fact was collected but the SMBIOS UUID, which this plain root (no /sys, no dmidecode) cannot give
    assert set(result.gaps) == {"host.product_uuid"}, result.gaps


def own_known_hosts(lab: SshLab, tmp_path: Path, lines: list[str]) -> Path:
    """An ssh_config whose only known_hosts file holds `lines` (the lab's shared one stays untouched)."""
    known = tmp_path / "known_hosts"
    known.write_text("".join(lines))
    config = tmp_path / "ssh_config"
    config.write_text(f"Host *\n  User {lab.user}\n  IdentityFile {lab.client_key}\n  UserKnownHostsFile {known}\n")
    return config


def public(key: Path) -> str:
    return " ".join(Path(f"{key}.pub").read_text().split()[:2])


def test_a_revoked_host_key_is_refused_even_with_accept_new(lab: SshLab, tmp_path: Path) -> None:
    """As OpenSSH: @revoked wins over a plain line for the same key, and --accept-new-host-keys never adds it."""
    port = lab.hosts["plain"].port
    config = own_known_hosts(lab, tmp_path, [f"@revoked * {public(lab.host_key)}\n",
                                             f"[127.0.0.1]:{port} {public(lab.host_key)}\n"])
    before = (tmp_path / "known_hosts").read_text()
    result = collect(f"ssh://127.0.0.1:{port}", lab, ssh_config=config, accept_new_host_keys=True)
    assert result.error is not None and "is marked @revoked in known_hosts; refused" in result.error, result.error
    assert (tmp_path / "known_hosts").read_text() == before and not result.notes


def test_cert_authority_lines_say_certificates_are_not_verified_and_plain_keys_keep_working(
        lab: SshLab, tmp_path: Path) -> None:
    """A valid @cert-authority line used to make every SSH target 'internal error: InvalidHostKey'."""
    plain, other = lab.hosts["plain"].port, lab.hosts["untrusted"].port
    hashed = paramiko.HostKeys.hash_host(f"[127.0.0.1]:{plain}")
    config = own_known_hosts(lab, tmp_path, [
        f"@cert-authority * {public(lab.other_host_key)}\n",
        f"@revoked elsewhere.example {public(lab.other_host_key)}\n",
        "@unknown-marker * ssh-ed25519 AAAA\n",
        f"{hashed} {public(lab.host_key)}\n"])
    assert collect(f"ssh://127.0.0.1:{plain}", lab, ssh_config=config).error is None
    refused = collect(f"ssh://127.0.0.1:{other}", lab, ssh_config=config, accept_new_host_keys=True)
    assert refused.error is not None and "@cert-authority" in refused.error, refused.error
    assert "cannot verify" in refused.error and "SHA256:" in refused.error


def test_known_hosts_patterns_match_as_openssh_reads_them(lab: SshLab, tmp_path: Path) -> None:
    """`*` and `?` are wildcards, `!` negates, and `[host]:port` is literal (not a character class)."""
    port = lab.hosts["plain"].port
    for pattern, trusted in ((f"[127.0.0.?]:{port}", True), ("*", True), (f"*,![127.0.0.1]:{port}", False),
                             ("[127.0.0.1]:1", False)):
        config = own_known_hosts(lab, tmp_path, [f"{pattern} {public(lab.host_key)}\n"])
        result = collect(f"ssh://127.0.0.1:{port}", lab, ssh_config=config)
        assert (result.error is None) is trusted, (pattern, result.error)


def test_the_accepted_keys_note_appears_only_when_a_key_was_accepted(lab: SshLab, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    main(["scan", "ssh://plain", "--ssh-config", str(lab.ssh_config), "--accept-new-host-keys", "--role",
          "protected-linux", "--reporter", f"json:{report}"])
    data = json.loads(report.read_text())
    text = json.dumps([data["notes"], [t["notes"] for t in data["targets"]]])
    assert "accept" not in text, text

