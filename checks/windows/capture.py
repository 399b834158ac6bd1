"""Capture mode: the probe's raw output written to a file, so a user can send it and it becomes a fixture.

Secrets never leave: a URL's user and password (a proxy written as http://user:pass@proxy:8080) are
always replaced. With masking on, the values that identify a site (computer, domain and user names,
SIDs, cluster and VM names, IPv4/IPv6 and MAC addresses, disk serial numbers and GUIDs) are replaced
too, each consistently (the same name everywhere becomes the same token, upper/lower case kept), so the
capture still parses into the same facts shape: the account's domain still matches the computer name,
a cluster disk's GUID still matches its MSFT_Disk GUID, and judging it gives the same verdicts.
Masking works on the decoded JSON of each section, so escapes cannot hide a value; a line that does not
decode (the broken output a user most wants to send) is masked as text with the same table.
"""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path
from typing import Any

from readiness.checks.windows.framing import SECTION

USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s\"]+@")
IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){2,7}[0-9A-Fa-f]{0,4}(?:%\d+)?(?![\w:])|"
                  r"(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){1,6}:[0-9A-Fa-f]{1,4}(?:%\d+)?(?![\w:])")
MAC = re.compile(r"(?<![0-9A-Fa-f:-])(?:[0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}(?![0-9A-Fa-f:-])")
GUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
DOMAIN_SID = re.compile(r"S-1-5-21-\d+-\d+-\d+")
#: Keys whose values are versions or sizes, never addresses (4.5.2.0 is not an IPv4 address).
NOT_ADDRESSES = {"version", "ps_version", "clr_version", "build", "release", "product", "caption", "csd_version"}
#: Where names that identify the site are, per section: key paths ("[]" walks a list) and their kind.
NAMES: dict[str, list[tuple[tuple[str, ...], str]]] = {
    "probe": [(("computer",), "host"), (("user",), "account")],
    "os": [(("hostname",), "host"), (("dns_hostname",), "host"), (("domain",), "domain")],
    "cluster": [(("cluster", "name"), "host"), (("cluster", "nodes", "[]"), "host")],
    "hyperv": [(("vms", "[]", "name"), "host")],
    "vmm": [(("run_as_accounts", "[]"), "user")],
    "storage": [(("disks", "[]", "serial"), "serial"), (("mpio", "[]", "serial"), "serial")],
    "net": [(("management_server",), "host")],
    "time": [(("source",), "host")],
    "asr": [(("agent_config", "vxagent.transport.hostname"), "host")],
}
KEEP = {"workgroup", "administrator", "administrators", "system", "localhost", "none", "", "local cmos clock"}


def _walk(value: Any, path: tuple[str, ...]) -> list[Any]:
    if not path:
        return [value]
    head, rest = path[0], path[1:]
    if head == "[]":
        return [found for item in (value if isinstance(value, list) else []) for found in _walk(item, rest)]
    return _walk(value.get(head), rest) if isinstance(value, dict) else []


class Masker:
    """A consistent replacement table, filled from the sections, applied to every string."""

    def __init__(self) -> None:
        self.table: dict[tuple[str, str], str] = {}
        self.names: list[tuple[str, str]] = []  # (lower-case value, kind), longest first when applied

    def _token(self, kind: str, value: str) -> str:
        key = (kind, value.lower())
        if key not in self.table:
            n = sum(1 for k in self.table if k[0] == kind) + 1
            token = self._make(kind, n)
            if kind in ("host", "user"):  # keep the length and the punctuation: name rules judge them
                token += "".join("x" if ch.isalnum() else ch for ch in value[len(token):])
            self.table[key] = token
        return self.table[key]

    @staticmethod
    def _make(kind: str, n: int) -> str:
        if kind == "ipv4":
            nets = ("192.0.2.", "198.51.100.", "203.0.113.")
            return f"{nets[(n - 1) // 250 % 3]}{(n - 1) % 250 + 1}" if n <= 750 else f"10.255.{n // 250}.{n % 250}"
        if kind == "ipv6":
            return f"2001:db8::{n:x}"
        if kind == "mac":
            return f"00:00:5E:00:53:{n % 256:02X}"
        if kind == "guid":
            return f"00000000-0000-4000-8000-{n:012x}"
        if kind == "sid":
            return f"S-1-5-21-1000000000-1000000000-{1000000000 + n}"
        return {"host": "host", "domain": "domain", "user": "user", "serial": "SERIAL"}[kind] + f"{n:02d}" + (
            ".example" if kind == "domain" else "")

    def learn(self, sections: dict[str, Any]) -> None:
        found_names: list[tuple[str, str]] = []
        for section, paths in NAMES.items():
            for path, kind in paths:
                for found in _walk(sections.get(section), path):
                    if isinstance(found, str):
                        found_names += self._candidates(found.strip(), kind)
        # longest first: a NetBIOS name that is the DNS name cut at 15 characters gets the DNS token cut too
        for value, kind in sorted(set(found_names), key=lambda item: -len(item[0])):
            longer = next((v for v, k in self.names if k == kind == "host" and v.startswith(value)), None)
            if longer is not None:
                self.table[(kind, value)] = self.table[(kind, longer)][:len(value)]
            else:
                self._token(kind, value)
            self.names.append((value, kind))

    @staticmethod
    def _candidates(value: str, kind: str) -> list[tuple[str, str]]:
        if kind == "account":
            domain, _, user = value.rpartition("\\")
            return (Masker._candidates(domain, "host") if domain else []) + Masker._candidates(user, "user")
        if value.lower() in KEEP or len(value) < 3 or IPV4.fullmatch(value):
            return []
        return [(value.lower(), kind)]

    def _name(self, match: re.Match[str], kind: str) -> str:
        text = match.group(0)
        token = self._token(kind, text)
        return token.upper() if text.isupper() else token

    def string(self, text: str, key: str = "") -> str:
        text = USERINFO.sub(r"\1***@", text)
        for value, kind in sorted(set(self.names), key=lambda item: -len(item[0])):
            text = re.sub(re.escape(value), lambda m, k=kind: self._name(m, k), text, flags=re.I)
        text = DOMAIN_SID.sub(lambda m: self._token("sid", m.group(0)), text)
        text = GUID.sub(lambda m: self._token("guid", m.group(0)), text)
        text = MAC.sub(lambda m: self._token("mac", m.group(0)), text)
        if key not in NOT_ADDRESSES:
            text = IPV4.sub(self._ipv4, text)
            text = IPV6.sub(self._ipv6, text)
        return text

    def _ipv4(self, match: re.Match[str]) -> str:
        try:
            address = ipaddress.IPv4Address(match.group(0))
        except ValueError:
            return match.group(0)
        if address.is_loopback or address.is_unspecified or address.is_link_local or str(address).startswith("255."):
            return match.group(0)
        return self._token("ipv4", match.group(0))

    def _ipv6(self, match: re.Match[str]) -> str:
        text = match.group(0)
        try:
            address = ipaddress.IPv6Address(text.split("%")[0])
        except ValueError:
            return text
        if address.is_loopback or address.is_unspecified:
            return text
        return self._token("ipv6", text)

    def value(self, value: Any, key: str = "") -> Any:
        if isinstance(value, str):
            return self.string(value, key)
        if isinstance(value, list):
            return [self.value(item, key) for item in value]
        if isinstance(value, dict):
            return {k: self.value(v, str(k)) for k, v in value.items()}
        return value


def mask_output(text: str, identifying: bool = True) -> str:
    """The probe output with secrets (always) and identifying values (when asked) replaced."""
    masker = Masker()
    lines = text.splitlines()
    decoded: dict[int, Any] = {}
    names: dict[str, Any] = {}
    for index, line in enumerate(lines[:-1]):
        match = SECTION.match(line.rstrip("\r"))
        if match:
            try:
                decoded[index + 1] = json.loads(lines[index + 1])
                names[match.group(1)] = decoded[index + 1]
            except (json.JSONDecodeError, RecursionError):
                pass
    if identifying:
        masker.learn(names)
    else:
        masker.names, masker.string = [], _secrets_only  # type: ignore[method-assign]
    out = []
    for index, line in enumerate(lines):
        if index in decoded:
            out.append(json.dumps(masker.value(decoded[index]), ensure_ascii=True, separators=(",", ":")))
        elif line.startswith("=="):
            out.append(line.rstrip("\r"))
        else:
            out.append(masker.string(line.rstrip("\r")))
    return "\r\n".join(out) + ("\r\n" if text.endswith(("\n", "\r")) else "")


def _secrets_only(text: str, key: str = "") -> str:
    return USERINFO.sub(r"\1***@", text)


def write_capture(path: Path, stdout: str, mask: bool) -> None:
    """Write one target's raw probe output (secrets removed; identifying values too with mask)."""
    path.write_text(mask_output(stdout, identifying=mask), encoding="ascii", errors="backslashreplace",
                    newline="")
