"""Which firewall source decides `firewall.inbound_tcp` (checks/linux/firewall.py), on synthetic probe output.

The live rules (iptables-save, root only) win; without them the front end's configuration is judged; with
nothing readable the facts are a gap, never a guess.
"""

from __future__ import annotations

import pytest

from readiness.checks.linux.parse import parse_probe

M = "@@readiness@@"
SAVED = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp --dport 2222 -j ACCEPT\n-A INPUT -j REJECT\nCOMMIT"
UFW_USER_RULES = "*filter\n:ufw-user-input - [0:0]\n-A ufw-user-input -p tcp --dport 22 -j ACCEPT\nCOMMIT"
ZONES = "public (default, active)\n  interfaces: eth0\n  services: dhcpv6-client\n  ports: 2222/tcp\n"


def cmd(name: str, text: str, rc: int = 0) -> str:
    return f"{M} cmd {name}\n{text}\n{M} end {rc}\n"


def file(path: str, text: str) -> str:
    return f"{M} file {path}\n{text}\n{M} end 0\n"


def probe(*sections: str, sshd_ports: str = "port 22") -> tuple[dict, dict]:
    raw = (cmd("probe", "version=2\nuid=1000") + cmd("sshd_effective", sshd_ports + "\npasswordauthentication yes")
           + "".join(sections) + f"{M} done\n")
    facts, gaps = parse_probe(raw)
    return facts["firewall"], gaps


@pytest.mark.parametrize("sections, tool, source, verdict, by", [
    # root: the live rules decide, whatever front end wrote them
    ([cmd("iptables", SAVED), cmd("firewalld_state", "running"), cmd("firewalld", ZONES)],
     "firewalld", "iptables-save", "reject", "-A INPUT -j REJECT"),
    ([f"{M} missing iptables\n", cmd("iptables_s", "-P INPUT DROP\n-A INPUT -p tcp --dport 22 -j ACCEPT")],
     "iptables", "iptables -S", "accept", "--dport 22 -j ACCEPT"),
    # not root: the front end's own configuration
    ([cmd("iptables", "", rc=1), cmd("firewalld_state", "running"), cmd("firewalld", ZONES)],
     "firewalld", "firewall-cmd --list-all-zones", "reject", "neither service ssh nor port 22/tcp"),
    ([cmd("iptables", "", rc=1), file("/etc/sysconfig/iptables", SAVED),
      cmd("rc_links", "/etc/rc.d/rc3.d/S08iptables")],
     "iptables", "/etc/sysconfig/iptables", "reject", "-A INPUT -j REJECT"),
    ([cmd("iptables", "", rc=1), cmd("suse_firewall", 'FW_CONFIGURATIONS_EXT="sshd"'),
      cmd("rc_links", "/etc/init.d/rc3.d/S05SuSEfirewall2_setup")],
     "SuSEfirewall2", "/etc/sysconfig/SuSEfirewall2", "accept", 'FW_CONFIGURATIONS_EXT="sshd"'),
    ([cmd("iptables", "", rc=1), cmd("suse_firewall", 'FW_SERVICES_EXT_TCP=""'), cmd("rc_links", "")],
     "SuSEfirewall2", "boot links", "accept", "not enabled at boot"),
    ([cmd("iptables", "", rc=1), file("/etc/ufw/ufw.conf", "ENABLED=yes"),
      file("/etc/default/ufw", 'DEFAULT_INPUT_POLICY="DROP"'),
      file("/lib/ufw/user.rules", UFW_USER_RULES)],
     "ufw", "ufw user.rules and /etc/default/ufw", "accept", "ufw-user-input"),
    ([f"{M} missing iptables\n", f"{M} missing iptables_s\n", f"{M} missing firewalld_state\n"],
     None, "probe", "accept", "no firewall tool"),
])
def test_firewall_source(sections: list[str], tool: str | None, source: str, verdict: str, by: str) -> None:
    firewall, gaps = probe(*sections)
    assert not [g for g in gaps if g.startswith("firewall")], gaps
    assert (firewall["tool"], firewall["source"]) == (tool, source)
    assert firewall["inbound_tcp"]["22"]["verdict"] == verdict and by in firewall["inbound_tcp"]["22"]["by"]


@pytest.mark.parametrize("sections, reason", [
    ([cmd("iptables", "", rc=1)], "need root"),
    ([cmd("iptables", "", rc=1), file("/etc/ufw/ufw.conf", "ENABLED=yes")], "user.rules could not be read"),
    ([cmd("iptables", "", rc=1), cmd("firewalld_state", "running")], "--list-all-zones gave nothing"),
    ([cmd("iptables", "-A INPUT -p tcp --dport 22 -j ACCEPT -m comment --comment \"open")], "could not be parsed"),
])
def test_unjudgeable_firewall_is_a_gap(sections: list[str], reason: str) -> None:
    firewall, gaps = probe(*sections)
    assert reason in (gaps.get("firewall.inbound_tcp") or gaps.get("firewall", "")), gaps
    assert firewall is None or firewall["inbound_tcp"] is None


def test_every_sshd_port_is_judged() -> None:
    firewall, _ = probe(cmd("iptables", SAVED), sshd_ports="port 22\nport 2222")
    assert firewall["sshd_ports_open"] == [2222]
    assert {p: v["verdict"] for p, v in firewall["inbound_tcp"].items()} == {"22": "reject", "2222": "accept"}
