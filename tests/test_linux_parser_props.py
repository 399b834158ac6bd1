"""The Linux probe parser is total: complete-or-unknown framing, and malformed sections become gaps.

Seeds are real probe outputs: the real probe.sh run in chroots of a few fixture hosts. Truncating one
anywhere must make the target unknown (TargetError "probe output ended early after N bytes"), never a
partial judgement. Mangling what is inside a section (hypothesis, bounded example count) must leave a
host with facts and gaps, never a traceback.
"""

from __future__ import annotations

import json
import os
import re
import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from readiness.checks.linux.parse import parse_probe
from readiness.errors import TargetError
from tests.chroot_hosts import build_root, default_root_dir, run_probe

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("busybox"),
                                reason="real probe outputs need the chroot harness (root, busybox-static)")

SEED_HOSTS = ("centos-6.6", "centos-6.6-multipath", "centos-7", "sles-11-sp3", "ubuntu-14.04")
M = "@@readiness@@"
SECTION = re.compile(rf"^{M} (?:cmd|file) .*\n(?:(?!{M} ).*\n)*?{M} end -?\d+\n", re.M)


@pytest.fixture(scope="module")
def seeds() -> dict[str, str]:
    return {name: run_probe(build_root(name, default_root_dir(name))) for name in SEED_HOSTS}


def _with_body(raw: str, index: int, body: str) -> str:
    """The output with the body of its index-th section replaced (framing kept)."""
    sections = list(SECTION.finditer(raw))
    match = sections[index % len(sections)]
    head = match.group(0).split("\n", 1)[0]
    return raw[:match.start()] + f"{head}\n{body}\n{M} end 0\n" + raw[match.end():]


def _assert_host(raw: str) -> None:
    facts, gaps = parse_probe(raw)
    json.dumps(facts)
    json.dumps(gaps)
    assert facts["probe"]["missing_tools"] is not None
    assert all(isinstance(reason, str) and reason for reason in gaps.values())


@pytest.mark.parametrize("name", SEED_HOSTS)
def test_complete_seed_parses_without_gaps_from_malformed_input(name: str, seeds: dict[str, str]) -> None:
    facts, gaps = parse_probe(seeds[name])
    assert not [g for g in gaps.values() if "could not be parsed" in g], gaps
    assert facts["os"]["kernel"]


@pytest.mark.parametrize("name", SEED_HOSTS)
def test_truncated_output_makes_the_target_unknown(name: str, seeds: dict[str, str]) -> None:
    raw = seeds[name]
    first_marker = raw.index("\n") + 1
    step = max(1, (len(raw) - first_marker) // 150)
    cuts = {*range(first_marker, len(raw) - 1, step), *(m.start() for m in re.finditer(M, raw)), len(raw) - 6}
    for cut in sorted(c for c in cuts if first_marker <= c < len(raw) - 1):
        part = raw[:cut]
        with pytest.raises(TargetError, match=rf"probe output ended early after {len(part.encode())} bytes"):
            parse_probe(part)


def test_a_section_left_open_is_early_end_even_with_a_trailer(seeds: dict[str, str]) -> None:
    raw = seeds["centos-6.6"].replace(f"{M} cmd df\n", f"{M} cmd df\n{M} cmd df2\n", 1)
    with pytest.raises(TargetError, match="section df never closed"):
        parse_probe(raw)


def test_bare_permitrootlogin_is_a_gap_for_sshd_only(seeds: dict[str, str]) -> None:
    raw = re.sub(rf"^{M} cmd sshd_effective\n(?:.*\n)*?{M} end 0\n", "", seeds["centos-6.6"], count=1, flags=re.M)
    index = [m.group(0).split("\n", 1)[0] for m in SECTION.finditer(raw)].index(f"{M} file /etc/ssh/sshd_config")
    facts, gaps = parse_probe(_with_body(raw, index, "Port 22\nPermitRootLogin\nPasswordAuthentication yes"))
    assert "Unparsable line PermitRootLogin" in gaps["sshd.permit_root_login"]
    assert facts["sshd"]["permit_root_login"] is None and facts["sshd"]["running"] is True
    assert facts["os"]["version"] == "6.6" and facts["storage"]["disk_count"] == 1


def test_ip_addr_line_ending_in_scope_keeps_the_host(seeds: dict[str, str]) -> None:
    raw = seeds["centos-6.6"]
    index = [m.group(0).split("\n", 1)[0] for m in SECTION.finditer(raw)].index(f"{M} cmd ip_addr")
    facts, _ = parse_probe(_with_body(raw, index, "2: eth0    inet 10.20.1.23/24 brd 10.20.1.255 scope"))
    assert facts["network"]["ipv4_addresses"] == ["10.20.1.23"]


LINE = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r\x0b\x0c\x1c\x1d\x1e"
                                      "\x85\u2028\u2029"), max_size=80)
FIELD_SOUP = st.lists(st.sampled_from(["scope", "inet", "inet6", "Port", "PermitRootLogin", "0A", ":", "\t", "=",
                                       "[", "]", "-A", "INPUT", "-j", "!", "--dport", "mpath-", "file=", "-1", "0x",
                                       "Bonding Mode:", "Slave Interface:", "22", "65536", "", "*filter", "Match"]),
                      max_size=12).map(" ".join)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(host=st.sampled_from(SEED_HOSTS), index=st.integers(min_value=0, max_value=400),
       lines=st.lists(st.one_of(LINE, FIELD_SOUP), max_size=8), keep=st.integers(min_value=0, max_value=60))
def test_mangled_sections_become_gaps(seeds: dict[str, str], host: str, index: int, lines: list[str],
                                      keep: int) -> None:
    """Any section's body replaced by a prefix of its own lines plus junk: the host keeps its other facts."""
    raw = seeds[host]
    sections = list(SECTION.finditer(raw))
    original = sections[index % len(sections)].group(0).split("\n")[1:-2]
    body = "\n".join([*original[:keep], *(line for line in lines if not line.startswith(M))])
    _assert_host(_with_body(raw, index, body))


def test_unknown_sshd_ports_leave_ssh_after_failover_unjudged(seeds: dict[str, str]) -> None:
    raw = re.sub(rf"^{M} cmd sshd_effective\n(?:.*\n)*?{M} end 0\n", "", seeds["centos-6.6"], count=1, flags=re.M)
    index = [m.group(0).split("\n", 1)[0] for m in SECTION.finditer(raw)].index(f"{M} file /etc/ssh/sshd_config")
    facts, gaps = parse_probe(_with_body(raw, index, "Port\n"))
    assert facts["firewall"]["sshd_ports_open"] is None and "firewall.sshd_ports_open" in gaps
    assert facts["firewall"]["inbound_tcp"]["22"]["verdict"] == "accept"  # port 22 is still judged for the push
