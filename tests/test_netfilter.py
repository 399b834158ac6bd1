"""checks/linux/netfilter.py: what the kernel (or a firewall front end) does with a new inbound TCP connection.

Table tests on rule text as iptables-save, iptables -S, firewall-cmd, SuSEfirewall2 and ufw write it.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from readiness.checks.linux import netfilter

EL6_STOCK = """\
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [48211:6322019]
-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT
-A INPUT -p icmp -j ACCEPT
-A INPUT -i lo -j ACCEPT
-A INPUT -p tcp -m state --state NEW -m tcp --dport 22 -j ACCEPT
-A INPUT -j REJECT --reject-with icmp-host-prohibited
-A FORWARD -j REJECT --reject-with icmp-host-prohibited
COMMIT
"""

RH_FIREWALL = """\
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:RH-Firewall-1-INPUT - [0:0]
-A INPUT -j RH-Firewall-1-INPUT
-A OUTPUT -p tcp -m tcp --dport 22 -j ACCEPT
-A RH-Firewall-1-INPUT -i lo -j ACCEPT
-A RH-Firewall-1-INPUT -m state --state ESTABLISHED,RELATED -j ACCEPT
-A RH-Firewall-1-INPUT -p tcp -m state --state NEW -m tcp --dport 2222 -j ACCEPT
-A RH-Firewall-1-INPUT -j REJECT --reject-with icmp-host-prohibited
COMMIT
"""


def verdict(text: str, port: int = 22) -> tuple[str, str]:
    found = netfilter.inbound_tcp(netfilter.parse_rules(text), port)
    return found.verdict, found.by


def chain(*rules: str, policy: str = "ACCEPT", extra: str = "") -> str:
    lines = [f":INPUT {policy} [0:0]", ":OUTPUT ACCEPT [0:0]", *extra.splitlines(), *rules]
    return "*filter\n" + "\n".join(lines) + "\nCOMMIT\n"


@pytest.mark.parametrize("text, port, expected, by", [
    (EL6_STOCK, 22, "accept", "--dport 22 -j ACCEPT"),
    (EL6_STOCK, 2222, "reject", "-j REJECT"),
    (RH_FIREWALL, 22, "reject", "RH-Firewall-1-INPUT -j REJECT"),   # the OUTPUT rule for 22 does not count
    (RH_FIREWALL, 2222, "accept", "--dport 2222 -j ACCEPT"),
    ("", 22, "accept", "INPUT chain policy ACCEPT"),                   # no rules loaded
    (chain(policy="DROP"), 22, "drop", "INPUT chain policy DROP"),
    (chain("-A INPUT -p tcp --dport 22 -j DROP", "-A INPUT -p tcp --dport 22 -j ACCEPT"), 22, "drop", "-j DROP"),
    (chain("-A INPUT -p udp --dport 22 -j ACCEPT", policy="DROP"), 22, "drop", "policy DROP"),
    (chain("-A INPUT ! -p tcp -j ACCEPT", policy="DROP"), 22, "drop", "policy DROP"),
    (chain("-A INPUT -p tcp -m multiport --dports 80,22,443 -j ACCEPT", policy="DROP"), 22, "accept", "multiport"),
    (chain("-A INPUT -p tcp -m multiport --dports 80,443 -j ACCEPT", policy="DROP"), 22, "drop", "policy DROP"),
    (chain("-A INPUT -p tcp --dport 20:30 -j ACCEPT", policy="DROP"), 22, "accept", "20:30"),
    (chain("-A INPUT -p tcp --dport 23:30 -j ACCEPT", policy="DROP"), 22, "drop", "policy DROP"),
    (chain("-A INPUT -p tcp ! --dport 22 -j ACCEPT", policy="DROP"), 22, "drop", "policy DROP"),
    (chain("-A INPUT -p tcp --dport ! 22 -j REJECT"), 22, "accept", "policy ACCEPT"),   # iptables 1.3 negation
    (chain("-A INPUT -p tcp --sport 22 -j ACCEPT", policy="DROP"), 22, "drop", "policy DROP"),
    (chain("-A INPUT -i lo -j ACCEPT", policy="DROP"), 22, "drop", "policy DROP"),
    (chain("-A INPUT ! -i lo -p tcp --dport 22 -j ACCEPT", policy="DROP"), 22, "accept", "! -i lo"),
    (chain("-A INPUT -m state --state ESTABLISHED -j ACCEPT", policy="DROP"), 22, "drop", "policy DROP"),
    (chain("-A INPUT -p tcp --syn --dport 22 -j ACCEPT", policy="DROP"), 22, "accept", "--syn"),
    (chain("-A INPUT -p tcp ! --syn -j ACCEPT", policy="DROP"), 22, "drop", "policy DROP"),
    (chain("-A INPUT -p tcp --tcp-flags FIN,SYN,RST,ACK SYN -j DROP"), 22, "drop", "--tcp-flags"),
    (chain("-A INPUT -m pkttype --pkt-type broadcast -j DROP"), 22, "accept", "policy ACCEPT"),
    # source-restricted: an ACCEPT lets some clients in (quoted), a DROP turns only some away
    (chain("-A INPUT -s 10.20.0.0/16 -p tcp --dport 22 -j ACCEPT", policy="DROP"), 22, "accept", "-s 10.20.0.0/16"),
    (chain("-A INPUT -s 192.0.2.7 -j DROP"), 22, "accept", "policy ACCEPT"),
    (chain("-A INPUT -p tcp --dport 22 -m recent --update --seconds 60 --hitcount 4 -j DROP"), 22, "accept",
     "policy ACCEPT"),
    (chain("-A INPUT -p tcp --dport 22 -j LOG --log-prefix \"ssh \"", "-A INPUT -j DROP"), 22, "drop", "-j DROP"),
    # user chains: RETURN goes back to the caller, falling off a user chain too, -g does not come back
    (chain("-A INPUT -j chk", "-A INPUT -p tcp --dport 22 -j ACCEPT", policy="DROP",
           extra=":chk - [0:0]\n-A chk -p tcp --dport 22 -j RETURN\n-A chk -j DROP"), 22, "accept", "INPUT -p tcp"),
    (chain("-A INPUT -j chk", "-A INPUT -j ACCEPT", extra=":chk - [0:0]\n-A chk -p tcp -j REJECT"), 22, "reject",
     "-A chk -p tcp -j REJECT"),
    (chain("-A INPUT -g chk", "-A INPUT -j DROP", extra=":chk - [0:0]\n-A chk -p udp -j ACCEPT"), 22, "accept",
     "policy ACCEPT"),
])
def test_inbound_tcp(text: str, port: int, expected: str, by: str) -> None:
    got, decided_by = verdict(text, port)
    assert got == expected, decided_by
    assert by in decided_by


def test_iptables_dash_s_format() -> None:
    text = ("-P INPUT DROP\n-P OUTPUT ACCEPT\n-N ssh-in\n-A INPUT -j ssh-in\n"
            "-A ssh-in -p tcp -m tcp --dport 22 -j ACCEPT\n")
    assert verdict(text) == ("accept", "-A ssh-in -p tcp -m tcp --dport 22 -j ACCEPT")
    assert verdict(text, 80) == ("drop", "INPUT chain policy DROP")


def test_other_tables_do_not_count() -> None:
    text = "*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -p tcp --dport 22 -j DROP\nCOMMIT\n" + EL6_STOCK
    assert verdict(text)[0] == "accept"


@pytest.mark.parametrize("text", [
    "-A INPUT -p tcp --dport 22 -j ACCEPT -m comment --comment \"unbalanced\n",
    "garbage line\n",
    "-A INPUT -p tcp --dport sshx -j ACCEPT\n",
    "-A INPUT !\n",
])
def test_unreadable_rules_raise_a_netfilter_error(text: str) -> None:
    with pytest.raises(netfilter.NetfilterError):
        netfilter.inbound_tcp(netfilter.parse_rules(text), 22)


def test_a_jump_loop_is_an_error_not_a_hang() -> None:
    text = chain("-A INPUT -j a", extra=":a - [0:0]\n:b - [0:0]\n-A a -j b\n-A b -j a")
    with pytest.raises(netfilter.NetfilterError, match="deeper"):
        verdict(text)


ZONES = """\
block
  interfaces:
  services:
  ports:

public (default, active)
  target: default
  interfaces: eth0
  services: dhcpv6-client {services}
  ports: {ports}

trusted
  target: ACCEPT
  interfaces: {trusted}
"""


@pytest.mark.parametrize("services, ports, trusted, port, expected, by", [
    ("ssh", "", "", 22, "accept", "zone public: service ssh"),
    ("", "", "", 22, "reject", "neither service ssh nor port 22/tcp"),
    ("", "2222/tcp", "", 2222, "accept", "port 2222/tcp"),
    ("", "2000-3000/tcp", "", 2222, "accept", "port 2000-3000/tcp"),
    ("", "22/udp", "", 22, "reject", "neither"),
    ("ssh", "", "", 2222, "reject", "neither"),                     # service ssh opens 22 only
    ("", "", "eth1", 22, "accept", "zone trusted: target ACCEPT"),  # any interface's zone that lets it in
])
def test_firewalld_zones(services: str, ports: str, trusted: str, port: int, expected: str, by: str) -> None:
    zones = netfilter.parse_zones(ZONES.format(services=services, ports=ports, trusted=trusted))
    got = netfilter.firewalld_inbound_tcp(zones, port)
    assert got.verdict == expected and by in got.by


def test_firewalld_default_zone_when_no_interface_is_bound() -> None:
    zones = netfilter.parse_zones("drop (default)\n  target: DROP\n  interfaces: \n  services: \n  ports: \n")
    assert netfilter.firewalld_inbound_tcp(zones, 22).verdict == "drop"


@pytest.mark.parametrize("settings, services, port, expected", [
    ({"FW_CONFIGURATIONS_EXT": "sshd"}, {"sshd": "ssh"}, 22, "accept"),
    ({"FW_CONFIGURATIONS_EXT": "sshd"}, {}, 22, "accept"),              # the stock sshd file opens ssh
    ({"FW_CONFIGURATIONS_EXT": "apache2"}, {"apache2": "http https"}, 22, "drop"),
    ({"FW_SERVICES_EXT_TCP": "80 ssh"}, {}, 22, "accept"),
    ({"FW_SERVICES_EXT_TCP": "2000:3000"}, {}, 2222, "accept"),
    ({"FW_SERVICES_ACCEPT_EXT": "10.0.0.0/8,tcp,22"}, {}, 22, "accept"),
    ({"FW_SERVICES_EXT_TCP": "", "FW_REJECT_EXT": "yes"}, {}, 22, "reject"),
    ({}, {}, 22, "drop"),
])
def test_suse_firewall2(settings: dict[str, str], services: dict[str, str], port: int, expected: str) -> None:
    assert netfilter.suse_inbound_tcp(settings, services, port).verdict == expected


UFW_RULES = """\
*filter
:ufw-user-input - [0:0]
### RULES ###
### tuple ### allow tcp 2222 0.0.0.0/0 any 0.0.0.0/0 in
-A ufw-user-input -p tcp --dport 2222 -j ACCEPT
### tuple ### deny tcp 23 0.0.0.0/0 any 0.0.0.0/0 in
-A ufw-user-input -p tcp --dport 23 -j DROP
### END RULES ###
COMMIT
"""


@pytest.mark.parametrize("port, policy, expected", [
    (2222, "DROP", "accept"), (23, "ACCEPT", "drop"), (22, "DROP", "drop"), (22, "ACCEPT", "accept"),
    (22, "REJECT", "reject"),
])
def test_ufw(port: int, policy: str, expected: str) -> None:
    assert netfilter.ufw_inbound_tcp(UFW_RULES, policy, port).verdict == expected


def test_shell_assignments() -> None:
    text = 'FW_SERVICES_EXT_TCP="22 80"\nFW_CONFIGURATIONS_EXT=\'sshd\'\nENABLED=yes\n# FW_ROUTE="yes"\n'
    assert netfilter.shell_assignments(text) == {"FW_SERVICES_EXT_TCP": "22 80", "FW_CONFIGURATIONS_EXT": "sshd",
                                                 "ENABLED": "yes"}


WORDS = st.sampled_from(["-A", "INPUT", "OUTPUT", "chk", "-j", "-g", "ACCEPT", "DROP", "REJECT", "RETURN", "LOG", "-p",
                         "tcp", "udp", "!", "--dport", "--dports", "22", "20:30", "22,80", ":", "-m", "state",
                         "--state", "NEW", "-s", "10.0.0.0/8", "-i", "lo", "eth0", "--syn", "--tcp-flags", "ALL",
                         "SYN", "-N", "-P", "*filter", ":INPUT", "DROP", "COMMIT", "#", '"', "--comment", "x"])


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(st.lists(WORDS, max_size=10).map(" ".join), max_size=12), port=st.sampled_from([22, 2222]))
def test_any_rule_text_gives_a_verdict_or_a_netfilter_error(lines: list[str], port: int) -> None:
    """Total: whatever the text, a verdict with its reason, or NetfilterError (which the parser turns into a gap)."""
    try:
        found = netfilter.inbound_tcp(netfilter.parse_rules("\n".join(lines)), port)
    except netfilter.NetfilterError:
        return
    assert found.verdict in ("accept", "drop", "reject") and found.by

