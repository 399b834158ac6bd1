"""The ssh_config index (readiness.transports.ssh._SSHConfig) gives exactly paramiko's own lookup.

Upstream tests every Host block for every host; ours looks plain host names up in a dict and tests only the
blocks that can match.  The two must agree on every kind of block: plain names (one or several per line, the
same name in several blocks), wildcards, character classes, negations, Match blocks, HostName tokens and the
IdentityFile lists that accumulate across blocks.
"""

from __future__ import annotations

import paramiko
import pytest

from readiness.transports.ssh import _SSHConfig

PLAIN = 400

CONFIG = "".join(f"Host host-{i:03d}\n  HostName 10.1.{i // 250}.{i % 250}\n  Port {2000 + i}\n"
                 for i in range(PLAIN)) + """
Host web01
  User alice
  IdentityFile ~/.ssh/web01
Host web01 web02
  Port 2201
  IdentityFile ~/.ssh/shared
Host db-*
  User dbadmin
  HostName %h.db.internal
Host !web02 *.example.com
  ProxyJump bastion
Host bastion
  HostName 10.0.0.1
  User jump
Match host web02
  User matched
Host web[0-9]
  Compression yes
Host web0?
  ForwardAgent yes
Host host-007
  User seventh
  IdentityFile ~/.ssh/seventh
Host host-007,host-008
  ConnectTimeout 7
Host *
  User default
  IdentityFile ~/.ssh/id_default
  ServerAliveInterval 30
"""

NAMES = ["web01", "web02", "web03", "web1", "db-1", "db-", "x.example.com", "web02.example.com", "bastion",
         "host-000", "host-007", "host-008", "host-250", f"host-{PLAIN - 1:03d}", f"host-{PLAIN:03d}", "unknown",
         "WEB01", "10.0.0.1", "*", "host-00?"]


@pytest.fixture(scope="module")
def configs() -> tuple[paramiko.SSHConfig, paramiko.SSHConfig]:
    return _SSHConfig.from_text(CONFIG), paramiko.SSHConfig.from_text(CONFIG)


@pytest.mark.parametrize("name", NAMES)
def test_lookup_is_paramikos(name: str, configs: tuple[paramiko.SSHConfig, paramiko.SSHConfig]) -> None:
    ours, upstream = configs
    assert dict(ours.lookup(name)) == dict(upstream.lookup(name))


def test_repeated_lookups_agree(configs: tuple[paramiko.SSHConfig, paramiko.SSHConfig]) -> None:
    ours, upstream = configs
    for _ in range(2):  # the index is built once and reused; lookups must not change the shared blocks
        for name in NAMES:
            assert dict(ours.lookup(name)) == dict(upstream.lookup(name))


def test_plain_blocks_are_not_scanned(configs: tuple[paramiko.SSHConfig, paramiko.SSHConfig]) -> None:
    """Only the blocks naming the host plainly, and the blocks that need testing, are tested."""
    ours, _ = configs
    candidates = ours._candidates("host-250")
    assert len(candidates) < 15  # of 400-odd blocks: its own and the wildcard/negation/Match ones
    assert any("host-250" in (c.get("host") or []) for c in candidates)
    assert all(c.get("host") != ["host-251"] for c in candidates)


def test_a_config_parsed_further_is_reindexed() -> None:
    config = _SSHConfig.from_text("Host one\n  Port 1\n")
    assert config.lookup("two")["hostname"] == "two" and "port" not in config.lookup("two")
    config.parse(iter(["Host two\n", "  Port 2\n"]))
    assert config.lookup("two")["port"] == "2"
