"""Decide what the host firewall does with a new inbound TCP connection to one port.

Pure functions over collected text, no I/O: the collector hands in what the probe read, and these functions
walk it the way the kernel walks netfilter, so rules can read a verdict per port
(`firewall.inbound_tcp`) instead of guessing from whether "22" appears somewhere.

The packet judged is a TCP SYN (state NEW) from another host (the process server, or an SSH client after
failover) to this host on a non-loopback interface. iptables rules are walked from the INPUT chain of the
filter table in order: jumps into user chains and back on RETURN or at a user chain's end, `-g` gotos, the
built-in chain's policy when nothing decided. Only INPUT (and what it calls) counts: OUTPUT and FORWARD rules
never see this packet.

What the packet's unknown properties do to a rule (its source address, which NIC it arrives on, rate
limits, any match module we do not model): such a rule still counts when it ACCEPTs (some clients are let
in; `by` quotes the rule so the report shows the restriction), and does not count when it DROPs or REJECTs
(it turns away only some clients). A source port match never matches: a client's port is ephemeral.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

TERMINAL = {"ACCEPT": "accept", "DROP": "drop", "REJECT": "reject", "QUEUE": "drop", "NFQUEUE": "drop"}
#: Options whose value we cannot test against the packet: the rule becomes conditional.
CONDITIONAL = {"-s", "--source", "-d", "--destination", "--src-range", "--dst-range", "--mac-source",
               "--limit", "--limit-burst", "--hitcount", "--seconds", "--connlimit-above", "--uid-owner",
               "--match-set", "--string", "--timestart", "--timestop", "--rcheck", "--update", "--set",
               "--name", "--hashlimit", "--hashlimit-upto", "--hashlimit-above", "--hashlimit-name", "--u32"}
#: Options that never decide anything here (target options, comments, modules' bookkeeping).
IGNORED = {"--comment", "--reject-with", "--log-prefix", "--log-level", "--log-uid", "--log-tcp-options",
           "--log-ip-options", "--set-mark", "--mark", "--icmp-type", "--ctdir", "--dst-type", "--src-type",
           "--set-xmark", "--nflog-group", "--nflog-prefix", "--ulog-prefix", "--mask", "--rsource",
           "--rdest", "--hashlimit-mode", "--hashlimit-htable-expire", "--hashlimit-burst", "--tcp-option",
           "-c", "--set-counters", "--to-ports", "--queue-num", "--queue-bypass", "--rttl",
           "--reap", "--connlimit-mask", "--helper"}
MAX_DEPTH = 64


class NetfilterError(ValueError):
    """The rule text cannot be read as iptables rules (the caller records a gap)."""


@dataclass
class Ruleset:
    """The filter table: chain -> policy (built-in chains) and chain -> rules in order."""

    policies: dict[str, str] = field(default_factory=dict)
    chains: dict[str, list[list[str]]] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    """What happens to the packet, and the rule or policy that decided it."""

    verdict: str  # accept | drop | reject
    by: str

    def as_fact(self) -> dict[str, str]:
        return {"verdict": self.verdict, "by": self.by}


def parse_rules(text: str) -> Ruleset:
    """The filter table of `iptables-save`, `iptables -S`, /etc/sysconfig/iptables or ufw's user.rules."""
    rules = Ruleset()
    table = "filter"
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#") or line == "COMMIT":
            continue
        if line.startswith("*"):
            table = line[1:].strip()
            continue
        if table != "filter":
            continue
        if line.startswith(":"):
            name, _, rest = line[1:].partition(" ")
            policy = rest.split()[0] if rest.split() else "-"
            rules.chains.setdefault(name, [])
            if policy != "-":
                rules.policies[name] = policy
            continue
        try:
            words = shlex.split(line)
        except ValueError as exc:
            raise NetfilterError(f"line {number}: {exc}: {line[:80]!r}") from None
        if len(words) < 2 or words[0] not in ("-A", "-I", "-P", "-N", "--append", "--insert", "--new-chain"):
            raise NetfilterError(f"line {number} is not an iptables rule: {line[:80]!r}")
        option, chain = words[0], words[1]
        if option == "-P":
            if len(words) < 3:
                raise NetfilterError(f"line {number}: policy without a target: {line[:80]!r}")
            rules.policies[chain] = words[2]
            rules.chains.setdefault(chain, [])
        elif option in ("-N", "--new-chain"):
            rules.chains.setdefault(chain, [])
        elif option in ("-I", "--insert"):
            rest = words[2:]
            position = int(rest.pop(0)) - 1 if rest and rest[0].isdigit() else 0
            rules.chains.setdefault(chain, []).insert(max(position, 0), rest)
        else:
            rules.chains.setdefault(chain, []).append(words[2:])
    return rules


def port_in(spec: str, port: int) -> bool:
    """Whether a port list ("22", "20:30", "22,80,1000:2000", ":1024", "ssh") holds the port."""
    for item in spec.split(","):
        low, sep, high = item.partition(":")
        if sep:
            lo = _port_number(low) if low else 0
            hi = _port_number(high) if high else 65535
            if lo <= port <= hi:
                return True
        elif _port_number(item) == port:
            return True
    return False


def _port_number(text: str) -> int:
    if text.isdigit():
        return int(text)
    known = {"ssh": 22, "http": 80, "https": 443}
    if text in known:
        return known[text]
    raise NetfilterError(f"port {text!r} is neither a number nor a service we know")


def _tcp_flags(mask: str, comp: str) -> bool:
    """--tcp-flags MASK COMP on a bare SYN."""
    every = {"SYN", "ACK", "FIN", "RST", "URG", "PSH"}
    masks = every if mask == "ALL" else set(mask.split(","))
    comps = set() if comp == "NONE" else (every if comp == "ALL" else set(comp.split(",")))
    return masks & {"SYN"} == comps


@dataclass
class _Match:
    matches: bool = True
    conditional: bool = False
    target: str | None = None
    goto: bool = False


def _match(words: list[str], port: int) -> _Match:
    """Whether one rule matches the packet, and its target."""
    result = _Match()
    i = 0
    while i < len(words):
        negate = words[i] == "!"
        if negate:
            i += 1
            if i >= len(words):
                raise NetfilterError("a rule ends in '!'")
        option = words[i]
        value = words[i + 1] if i + 1 < len(words) else ""
        if value == "!":  # old iptables: "--dport ! 22"
            negate, value = not negate, words[i + 2] if i + 2 < len(words) else ""
            i += 1
        hit: bool | None = None
        # an option takes a value unless the next word is another option (--syn, --log-tcp-options, ...)
        takes_value = i + 1 < len(words) and not words[i + 1].startswith("-")
        if option in ("-j", "--jump", "-g", "--goto"):
            result.target, result.goto = value, option in ("-g", "--goto")
        elif option in ("-p", "--protocol"):
            hit = value.lower() in ("tcp", "6", "all", "0")
        elif option in ("-i", "--in-interface"):
            if value == "lo" or value.startswith("lo+"):
                hit = False
            elif not negate:
                result.conditional = True
        elif option in ("-o", "--out-interface", "-m", "--match"):
            pass
        elif option in ("--dport", "--destination-port", "--dports", "--destination-ports", "--ports"):
            hit = port_in(value, port)
        elif option in ("--sport", "--source-port", "--sports", "--source-ports"):
            hit = False
        elif option in ("--state", "--ctstate"):
            hit = "NEW" in value.upper().split(",")
        elif option == "--syn":
            hit = True
        elif option in ("-f", "--fragment"):
            hit = False
        elif option == "--pkt-type":
            hit = value == "unicast"
        elif option == "--tcp-flags":
            hit = _tcp_flags(value, words[i + 2] if i + 2 < len(words) else "")
            i += 1
        elif option in CONDITIONAL:
            result.conditional = True
        elif option in IGNORED or option.startswith("--log-") or option.startswith("--reject"):
            pass
        elif option.startswith("-"):
            result.conditional = True  # a match module option we do not model
        else:
            raise NetfilterError(f"unexpected word {option!r} in rule {' '.join(words)[:80]!r}")
        if hit is not None and hit == negate:
            result.matches = False
        i += 2 if takes_value else 1
    return result


def _walk(rules: Ruleset, chain: str, port: int, depth: int) -> Verdict | None:
    """Walk one chain; None when it falls off the end or RETURNs."""
    if depth > MAX_DEPTH:
        raise NetfilterError(f"chains nest deeper than {MAX_DEPTH} (a loop through {chain})")
    for words in rules.chains.get(chain, []):
        match = _match(words, port)
        if not match.matches or match.target is None:
            continue
        text = f"-A {chain} {' '.join(words)}"
        if match.target in TERMINAL:
            verdict = TERMINAL[match.target]
            if verdict == "accept" or not match.conditional:
                return Verdict(verdict, text)
            continue
        if match.target == "RETURN":
            if match.conditional:
                continue
            return None
        if match.target in rules.chains:
            found = _walk(rules, match.target, port, depth + 1)
            if found is not None:
                return found
            if match.goto and not match.conditional:
                return None
        # LOG, MARK, NOTRACK, ...: non-terminating targets, the walk goes on
    return None


def inbound_tcp(rules: Ruleset, port: int) -> Verdict:
    """The verdict of the INPUT chain on a new TCP connection to the port."""
    found = _walk(rules, "INPUT", port, 0)
    if found is not None:
        return found
    policy = rules.policies.get("INPUT", "ACCEPT")
    return Verdict(TERMINAL.get(policy, "drop"), f"INPUT chain policy {policy}")


# ---------------------------------------------------------------------------- firewalld
def parse_zones(text: str) -> dict[str, dict[str, object]]:
    """`firewall-cmd --list-all-zones`: zone -> {default, active, target, interfaces, services, ports}."""
    zones: dict[str, dict[str, object]] = {}
    current: dict[str, object] | None = None
    for line in text.splitlines():
        if not line.strip():
            continue
        if not line[0].isspace():
            name, _, flags = line.strip().partition(" ")
            current = zones[name] = {"default": "default" in flags, "active": "active" in flags,
                                     "target": "default", "interfaces": [], "services": [], "ports": []}
            continue
        key, sep, value = line.strip().partition(":")
        if current is None or not sep:
            raise NetfilterError(f"firewall-cmd zone line outside a zone: {line.strip()[:80]!r}")
        if key in ("interfaces", "services", "ports"):
            current[key] = value.split()
        elif key == "target":
            current["target"] = value.strip()
    return zones


def firewalld_inbound_tcp(zones: dict[str, dict[str, object]], port: int) -> Verdict:
    """The verdict of the zones that see outside traffic: the interfaces' zones, else the default zone.

    A host can be reached through any of its interfaces, so one zone that lets the port in is enough.
    """
    bound = [name for name, z in zones.items() if [i for i in z["interfaces"] if i != "lo"]]  # type: ignore[attr-defined]
    default = [name for name, z in zones.items() if z["default"]]
    considered = bound or default
    if not considered:
        raise NetfilterError("firewalld reports neither a default zone nor a zone bound to an interface")
    refusals = []
    for name in considered:
        zone = zones[name]
        target = str(zone["target"]).upper()
        if target == "ACCEPT":
            return Verdict("accept", f"firewalld zone {name}: target ACCEPT")
        if "ssh" in zone["services"] and port == 22:  # type: ignore[operator]
            return Verdict("accept", f"firewalld zone {name}: service ssh")
        for spec in zone["ports"]:  # type: ignore[attr-defined]
            number, _, proto = str(spec).partition("/")
            if proto == "tcp" and port_in(number.replace("-", ":"), port):
                return Verdict("accept", f"firewalld zone {name}: port {spec}")
        refusals.append((name, "drop" if target == "DROP" else "reject"))
    name, verdict = refusals[0]
    return Verdict(verdict, f"firewalld zone {name}: neither service ssh nor port {port}/tcp is open")


# ---------------------------------------------------------------------------- SuSEfirewall2
def suse_inbound_tcp(settings: dict[str, str], services: dict[str, str], port: int) -> Verdict:
    """SuSEfirewall2's external zone: FW_SERVICES_EXT_TCP, FW_CONFIGURATIONS_EXT, FW_SERVICES_ACCEPT_EXT.

    `services` maps a configuration name (sshd) to the TCP= value of its file under
    /etc/sysconfig/SuSEfirewall2.d/services/. Anything not opened is dropped (FW_REJECT_EXT=no is the default).
    """
    for item in settings.get("FW_SERVICES_EXT_TCP", "").split():
        if port_in(item, port):
            return Verdict("accept", f'FW_SERVICES_EXT_TCP="{settings["FW_SERVICES_EXT_TCP"]}"')
    for name in settings.get("FW_CONFIGURATIONS_EXT", "").split():
        tcp = services.get(name, "ssh" if name == "sshd" else "")
        if any(port_in(item, port) for item in tcp.split()):
            configured = settings["FW_CONFIGURATIONS_EXT"]
            return Verdict("accept", f'FW_CONFIGURATIONS_EXT="{configured}" ({name}: TCP="{tcp}")')
    for item in settings.get("FW_SERVICES_ACCEPT_EXT", "").split():
        fields = item.split(",")
        if len(fields) >= 3 and fields[1] == "tcp" and port_in(fields[2], port) and len(fields) < 4:
            return Verdict("accept", f"FW_SERVICES_ACCEPT_EXT {item}")
    reject = settings.get("FW_REJECT_EXT", "no").lower() == "yes"
    return Verdict("reject" if reject else "drop", f"SuSEfirewall2 external zone does not open TCP {port}")


# ---------------------------------------------------------------------------- ufw
def ufw_inbound_tcp(user_rules: str, default_policy: str, port: int) -> Verdict:
    """ufw: its user chain (user.rules, iptables-save format), then DEFAULT_INPUT_POLICY."""
    rules = parse_rules(user_rules)
    found = _walk(rules, "ufw-user-input", port, 0)
    if found is not None:
        return found
    policy = default_policy.upper() or "DROP"
    return Verdict(TERMINAL.get(policy, "drop"), f'DEFAULT_INPUT_POLICY="{policy}"')


def shell_assignments(text: str) -> dict[str, str]:
    """KEY="value" lines of a sysconfig / ufw file, unquoted."""
    values = {}
    for match in re.finditer(r'^\s*([A-Z_][A-Z0-9_]*)=(?:"([^"]*)"|\'([^\']*)\'|(\S*))', text, re.M):
        values[match.group(1)] = next((g for g in match.groups()[1:] if g is not None), "")
    return values
