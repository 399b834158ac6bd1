"""Listening sockets from the probe: the compact ADDRESS:PORT lines probe.sh sends, and whole /proc/net/tcp lines
(captures of older probes), read the same; anything else in the section is skipped, never a traceback."""

from __future__ import annotations

from readiness.checks.linux.network import parse_proc_net_tcp
from readiness.checks.linux.sections import ProbeOutput, Section

FULL = """\
   0: 0100007F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1234 1 0 100 0 0 10 0
   1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1235 1 0 100 0 0 10 0
   2: 0100007F:0050 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 1236 1 0 100 0 0 10 0
   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:0 0 0
"""
COMPACT = "0100007F:0016\n00000000:1F90\n00000000000000000000000000000000:0016\n0100007F:0016\n"
EXPECTED = [{"address": "127.0.0.1", "port": 22},
            {"address": "::", "port": 22}, {"address": "0.0.0.0", "port": 8080}]


def output(text: str) -> ProbeOutput:
    return ProbeOutput(commands={"listening_tcp": Section(kind="cmd", name="listening_tcp", text=text)},
                       files={}, missing=set())


def test_compact_and_full_lines_read_the_same() -> None:
    assert parse_proc_net_tcp(output(FULL)) == parse_proc_net_tcp(output(COMPACT)) == sorted(
        EXPECTED, key=lambda x: (x["port"], x["address"]))


def test_other_states_and_garbage_are_skipped() -> None:
    junk = "0100007F:0050 0100007F:1F90 01 x\nzz:0016\n0100007F:12345\n: \n\x00\n0100007F\n0100007F:0016 extra\n"
    assert parse_proc_net_tcp(output(junk)) == []
    assert parse_proc_net_tcp(output(junk + COMPACT)) == parse_proc_net_tcp(output(COMPACT))


def test_absent_section_is_no_listener() -> None:
    assert parse_proc_net_tcp(ProbeOutput(commands={}, files={}, missing=set())) == []
