"""No secret on any command line: the proxy password reaches the target's curl on stdin and its wget through
the environment, never argv (what `ps` shows every user of the target), nor a report, facts file or log.

The target is a chrooted sshd (a CentOS 6 fixture root with busybox) whose HTTP client is a stand-in that
writes down its own command line, while this machine's every command line is sampled during the scan.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from readiness.cli import main
from tests.netpeers import https_server, tinyproxy
from tests.sshd_hosts import SshLab


@pytest.fixture(scope="module")
def lab() -> Iterator[SshLab]:
    lab = SshLab()
    try:
        yield lab
    finally:
        lab.close()


SECRET = "pr0xy-Pa55-on-stdin-only"
#: Stand-ins for the target's HTTP clients: each writes down its own command line (what `ps` shows for it)
#: before doing its job; curl's stand-in also keeps the config it reads on stdin, wget's the proxy it was given.
CURL_WRAPPER = """#!/bin/sh
printf 'argv: %s\\n' "$0 $*" >> /rt/argv.log
if [ "$1" = -K ]; then printf 'config: %s\\n' "$(cat)" >> /rt/stdin.log; fi
exit 7
"""
WGET_WRAPPER = """#!/bin/sh
printf 'argv: %s\\n' "$0 $*" >> /rt/argv.log
printf 'proxy: %s\\n' "${http_proxy:-none}" >> /rt/stdin.log
exec /bin/busybox wget "$@"
"""


class CmdlineWatch:
    """Every command line on this machine (chroots included), sampled until stopped: a secret must be in none."""

    def __init__(self, secret: str) -> None:
        self.secret, self.hits, self.samples = secret.encode(), [], 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for path in Path("/proc").glob("[0-9]*/cmdline"):
                try:
                    line = path.read_bytes()
                except OSError:
                    continue
                if self.secret in line:
                    self.hits.append(line.replace(b"\0", b" ").decode(errors="replace"))
            self.samples += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@pytest.mark.parametrize("client", ["curl", "wget"])
def test_the_proxy_password_is_on_no_command_line_of_the_target(lab: SshLab, tmp_path: Path, client: str,
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """--proxy names the user; the password comes from the environment and reaches curl on stdin (-K -),
    wget through its environment; no argv on the target (recorded by the clients) or here holds it."""
    root = lab.distro_root("centos-6.6")
    logs = root / "rt"
    logs.mkdir(mode=0o1777)
    logs.chmod(0o1777)
    for name in ("curl", "wget"):
        for folder in ("bin", "usr/bin"):
            (root / folder / name).unlink(missing_ok=True)
    wrapper = root / "bin" / client
    wrapper.write_text(CURL_WRAPPER if client == "curl" else WGET_WRAPPER)
    wrapper.chmod(0o755)
    lab.start(f"argv-{client}", root=root)
    monkeypatch.setenv("READINESS_PROXY_PASSWORD", SECRET)
    with https_server(None) as web, tinyproxy(tmp_path, user="scanner", password=SECRET, deny=[]) as proxy:
        endpoints = tmp_path / "endpoints.yaml"
        endpoints.write_text(json.dumps({"endpoints": [{"id": "web", "url": f"http://127.0.0.1:{web}/",
                                                        "requirement": "MS-URL-001"}],
                                         "port_check_host": "127.0.0.1", "outbound_ports": []}))
        watch = CmdlineWatch(SECRET)
        try:
            main(["scan", f"ssh://argv-{client}", "--ssh-config", str(lab.ssh_config), "--role", "process-server",
                  "--endpoints", str(endpoints), "--proxy", proxy, "--network-timeout", "3", "--reporter",
                  f"json:{tmp_path / 'report.json'}", "--save-facts", str(tmp_path / "facts.json")])
        finally:
            watch.stop()
    recorded = (logs / "argv.log").read_text()
    assert f"/bin/{client} " in recorded and SECRET not in recorded, recorded
    assert watch.samples > 0 and not watch.hits, watch.hits
    given = (logs / "stdin.log").read_text()
    assert f'proxy-user = "scanner:{SECRET}"' in given if client == "curl" else f"scanner:{SECRET}@" in given
    out = capsys.readouterr()
    for text in ((tmp_path / "report.json").read_text(), (tmp_path / "facts.json").read_text(), out.out, out.err):
        assert SECRET not in text
    facts = json.loads((tmp_path / "facts.json").read_text())["targets"][0]["facts"]
    [endpoint] = facts["connectivity"]["endpoints"]
    assert endpoint["proxy"].startswith("http://***@127.0.0.1:")
    if client == "wget":  # the real busybox wget went through the authenticating proxy: 200, not 407
        assert endpoint["http"]["status"] == 200, endpoint
