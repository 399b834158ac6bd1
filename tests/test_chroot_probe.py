"""The real checks/linux/probe.sh, run in a chroot of every fixture distribution.

Each fixture host is built once per session (``tests/chroot_hosts.py``) and the
probe runs in it as ``chroot ROOT /bin/sh -s``. The tests only look at the raw
framed output: the release file and kernel of ``meta.yaml`` come back intact,
and every command the probe asks for shows up as a ``cmd`` section when the host
has it and as ``missing`` when it does not.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.chroot_hosts import (
    BUSYBOX,
    FIXTURE_HOSTS,
    FIXTURES,
    UNCAPTURED_RC,
    build_root,
    default_root_dir,
    load_commands,
    load_meta,
    run_probe,
)

M = "@@readiness@@"

pytestmark = [
    pytest.mark.skipif(
        not hasattr(os, "geteuid") or os.geteuid() != 0, reason="the chroot harness needs root (chroot, mknod)"
    ),
    pytest.mark.skipif(not BUSYBOX.is_file(), reason=f"{BUSYBOX} is missing: apt-get install busybox-static"),
]

# probe section -> the program it runs (see checks/linux/probe.sh)
SECTION_PROGRAMS = {
    "kernel": "uname",
    "machine": "uname",
    "hostname": "hostname",
    "ip_addr": "ip",
    "lvs": "lvs",
    "multipath": "multipath",
    "dmsetup": "dmsetup",
    "df": "df",
    "systemctl_ssh": "systemctl",
    "chkconfig_sshd": "chkconfig",
    "iptables": "iptables-save",
    "firewalld_state": "firewall-cmd",
    "vmware_toolbox": "vmware-toolbox-cmd",
}

# hosts also run under busybox ash (Debian's static build) as /bin/sh
BUSYBOX_SHELL_HOSTS = [h for h in ("rhel-6.7", "sles-11-sp3", "debian-8") if h in FIXTURE_HOSTS]


def _build_and_run(name: str, shell: str) -> str:
    return run_probe(build_root(name, default_root_dir(name, shell), shell=shell))


@pytest.fixture(scope="module")
def probe_outputs() -> dict[str, str]:
    """Probe output of every fixture host (dash as /bin/sh), built and run once per session."""
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        outputs = pool.map(lambda n: _build_and_run(n, "dash"), FIXTURE_HOSTS)
        return dict(zip(FIXTURE_HOSTS, outputs, strict=True))


@pytest.fixture(scope="module")
def busybox_outputs() -> dict[str, str]:
    """Probe output of a few hosts whose /bin/sh is Debian's static busybox ash."""
    return {name: _build_and_run(name, "busybox") for name in BUSYBOX_SHELL_HOSTS}


def _release_text(name: str, release_file: str) -> str:
    path = FIXTURES / name / "root" / release_file.lstrip("/")
    assert path.is_file() and not path.is_symlink(), f"{release_file} must be a regular file in the fixture"
    return path.read_text()


def _section(name: str, text: str) -> str:
    """A `cmd`/`file` section as probe.sh frames it (end code 0)."""
    return f"{name}\n{text}\n{M} end 0\n"


def test_fixture_hosts_are_found() -> None:
    assert len(FIXTURE_HOSTS) >= 24, FIXTURE_HOSTS


@pytest.mark.parametrize("name", FIXTURE_HOSTS)
def test_probe_reports_release_file_and_kernel(name: str, probe_outputs: dict[str, str]) -> None:
    out = probe_outputs[name]
    expected = load_meta(name)["expected"]
    release = expected["release_file"]
    assert f"{M} file " + _section(release, _release_text(name, release)) in out
    assert f"{M} cmd " + _section("kernel", expected["kernel"] + "\n") in out
    assert f"{M} cmd " + _section("machine", expected["arch"] + "\n") in out
    assert f"{M} cmd firmware\n{expected['firmware']}\n" in out


@pytest.mark.parametrize("name", FIXTURE_HOSTS)
def test_probe_sections_match_the_captured_commands(name: str, probe_outputs: dict[str, str]) -> None:
    out = probe_outputs[name]
    captured = load_commands(name)
    assert f"{M} end {UNCAPTURED_RC}\n" not in out, "a stub was called with arguments that were not captured"
    assert out.startswith(f"{M} cmd probe\n")
    assert out.endswith(f"{M} done\n"), "the probe must end with its trailer line"
    for section, program in SECTION_PROGRAMS.items():
        if program in captured:
            assert f"{M} cmd {section}\n" in out, f"{section}: {program} is captured but did not run"
        else:
            assert f"{M} missing {section}\n" in out, f"{section}: {program} is absent but not reported missing"
    if "rpm" in captured:
        assert f"{M} cmd rpm\n" in out and f"{M} cmd dpkg\n" not in out
    else:
        assert f"{M} cmd dpkg\n" in out and f"{M} cmd rpm\n" not in out
    assert (f"{M} cmd sshd_effective\n" in out) == ("sshd" in captured)
    ps = captured.get("ps", {}).get("-e -o comm=")
    if isinstance(ps, str):
        assert f"{M} cmd " + _section("processes", ps) in out


@pytest.mark.parametrize("name", BUSYBOX_SHELL_HOSTS)
def test_probe_under_busybox_ash_reports_release_file_and_kernel(name: str, busybox_outputs: dict[str, str]) -> None:
    out = busybox_outputs[name]
    expected = load_meta(name)["expected"]
    release = expected["release_file"]
    assert f"{M} file " + _section(release, _release_text(name, release)) in out
    assert f"{M} cmd " + _section("kernel", expected["kernel"] + "\n") in out


def test_probe_under_busybox_ash_queries_dpkg_on_debian(busybox_outputs: dict[str, str]) -> None:
    if "debian-8" not in busybox_outputs:
        pytest.skip("no debian-8 fixture")
    assert f"{M} cmd dpkg\n" in busybox_outputs["debian-8"]


def test_roots_are_valid_chroot_directories(probe_outputs: dict[str, str]) -> None:
    for name in probe_outputs:
        root = default_root_dir(name)
        for p in (root, *root.parents):
            st = os.stat(p)
            assert st.st_uid == 0 and not st.st_mode & 0o022, f"{p} would be refused as a ChrootDirectory"
        assert Path(root, "dev/null").is_char_device()


def _section_text(out: str, name: str) -> str:
    start = out.index(f"{M} cmd {name}\n") + len(f"{M} cmd {name}\n")
    return out[start:out.index(f"\n{M} end ", start)]


@pytest.mark.parametrize("name", FIXTURE_HOSTS)
def test_probe_sends_only_listening_sockets(name: str, probe_outputs: dict[str, str]) -> None:
    lines = [line for line in _section_text(probe_outputs[name], "listening_tcp").splitlines() if line.strip()]
    # only the local ADDRESS:PORT of each listener is sent (issue 11): no remote address, no state, no inode
    assert lines and all(re.fullmatch(r"[0-9A-F]{8}(?:[0-9A-F]{24})?:[0-9A-F]{4}", line) for line in lines), lines
    assert f"{M} file /proc/net/tcp\n" not in probe_outputs[name]


def test_established_connections_do_not_reach_the_output(probe_outputs: dict[str, str]) -> None:
    """5000 more ESTABLISHED sockets on the target leave the probe's output as it was (filtered on the target)."""
    name = "centos-6.6"
    root = build_root(name, default_root_dir(name).with_name(f"{name}-busy"))
    tcp = root / "proc/net/tcp"
    established = "".join(f"{i + 10:5d}: 1701140A:0016 0500140A:{i + 1024:04X} 01 00000000:00000000 02:000A7B4C "
                          f"00000000     0        0 {20000 + i} 4 ffff880037a49400 20 4 31 10 -1\n"
                          for i in range(5000))
    tcp.write_text(tcp.read_text() + established)
    busy = run_probe(root)
    assert _section_text(busy, "listening_tcp") == _section_text(probe_outputs[name], "listening_tcp")
    assert abs(len(busy) - len(probe_outputs[name])) < 64  # only the clock line may differ
