"""One machine, several views: merge the targets that describe the same machine into one.

A machine can be seen more than once: by vCenter (a `vmware-vm` target) and from inside the guest (SSH or
WinRM), or in the facts files of two jump hosts judged together (`readiness evaluate a.json b.json`).  Judged
apart, it would count twice in the estate and each view would miss the other's facts.  Views are matched by:

1. the BIOS (SMBIOS) UUID: vSphere's `vm.uuid` and the guest's `host.product_uuid` name the same 16 bytes,
   but older VM hardware versions present the first three fields to the guest in the other byte order
   (little-endian), so both orders match;
2. the same target URI and name (the same scan in two files; never `local://`, which is a different
   machine on every jump host);
3. a host name and an IP address both in common (a name alone, or a private address alone, repeats across
   sites); never across two different UUIDs;
4. in a scan with `--guests`, a guest reached at the address its VM reports (readiness/guests.py passes these
   pairs), when nothing above matched them already (a non-root guest shows no UUID); never across two UUIDs.

The merged target carries the union of roles and fact namespaces; where several views hold a namespace,
the newest (`collected_at`) wins.  Notes on the target say which views were merged, how each match was
made and whose facts won.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from readiness.facts import TargetFacts

GUEST_SCHEMES = ("ssh", "winrm", "local")
_HEX = re.compile(r"[^0-9a-f]")


def uuid_forms(text: Any) -> tuple[str, str] | None:
    """(as written, with the first three fields byte-swapped) as 32 hex digits, or None for no real UUID."""
    digits = _HEX.sub("", str(text or "").lower())
    if len(digits) != 32 or len(set(digits)) == 1:  # all zeros / all f: firmware that sets no UUID
        return None
    swapped = "".join((digits[6:8], digits[4:6], digits[2:4], digits[0:2], digits[10:12], digits[8:10],
                       digits[14:16], digits[12:14], digits[16:]))
    return digits, swapped


def _short(name: Any) -> str | None:
    text = str(name or "").strip().lower()
    if not text or _is_ip(text):
        return None
    return text.split(".")[0] or None


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True


def _usable_ip(text: Any) -> str | None:
    try:
        address = ipaddress.ip_address(str(text or "").strip("[]").split("/")[0])
    except ValueError:
        return None
    return None if address.is_loopback or address.is_link_local or address.is_unspecified else str(address)


@dataclass
class View:
    """What identifies one target: its UUIDs, guest host names and addresses."""

    index: int
    target: TargetFacts
    uuids: set[str] = field(default_factory=set)  # either byte order's key, to tell two machines apart
    vm_uuids: set[str] = field(default_factory=set)  # vSphere's vm.uuid, as written (32 hex digits)
    guest_uuids: set[str] = field(default_factory=set)  # the guest's product UUID, as written
    names: set[str] = field(default_factory=set)
    ips: set[str] = field(default_factory=set)


def identify(index: int, target: TargetFacts) -> View:
    facts = target.facts or {}
    vm, host = facts.get("vm") or {}, facts.get("host") or {}
    view = View(index=index, target=target)
    for raw, kind in ((vm.get("uuid"), view.vm_uuids), (host.get("product_uuid"), view.guest_uuids)):
        if forms := uuid_forms(raw):
            kind.add(forms[0])
            view.uuids.add(min(forms))
    guest_names = [host.get("hostname"), vm.get("guest_hostname"), (facts.get("windows") or {}).get("netbios_name")]
    uri_host = urlsplit(target.uri).hostname or ""
    if target.scheme in GUEST_SCHEMES and target.scheme != "local":
        guest_names += [target.name, uri_host]
    view.names = {n for n in map(_short, guest_names) if n}
    addresses = [*((facts.get("network") or {}).get("ipv4_addresses") or []), *(vm.get("ip_addresses") or [])]
    if target.scheme in GUEST_SCHEMES and _is_ip(uri_host):
        addresses.append(uri_host)
    view.ips = {ip for ip in map(_usable_ip, addresses) if ip}
    return view


class _Groups:
    """Union-find over views that keeps each group's UUIDs, so two different UUIDs are never joined."""

    def __init__(self, views: list[View]) -> None:
        self.parent = list(range(len(views)))
        self.uuids = [set(v.uuids) for v in views]  # keys of either byte order
        self.how: dict[int, list[str]] = {}

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, a: int, b: int, how: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb or (self.uuids[ra] and self.uuids[rb] and not self.uuids[ra] & self.uuids[rb]):
            return
        self.parent[rb] = ra
        self.uuids[ra] |= self.uuids[rb]
        self.how.setdefault(ra, []).extend([*self.how.pop(rb, []), how])


def _match(views: list[View], pairs: list[tuple[str, str, str]]) -> _Groups:
    groups = _Groups(views)
    by_key: dict[tuple[str, ...], View] = {}
    for view in views:  # 1a. BIOS UUID as written (vCenter and RVTools alike, or a guest and its VM)
        for digits in view.vm_uuids | view.guest_uuids:
            first = by_key.setdefault(("uuid", digits), view)
            if first is not view:
                groups.join(first.index, view.index, f"{first.target.uri} and {view.target.uri} by BIOS UUID")
    swapped: dict[str, View] = {}
    for view in views:
        for forms in filter(None, map(uuid_forms, view.vm_uuids)):
            swapped.setdefault(forms[1], view)
    for view in views:  # 1b. a guest showing its VM's UUID with the first three fields byte-swapped
        for digits in view.guest_uuids:
            first = swapped.get(digits)
            if first is not None and first is not view:
                groups.join(first.index, view.index, f"{first.target.uri} and {view.target.uri} by BIOS UUID (first "
                            "three fields in the other byte order, as older VM hardware versions show it)")
    for view in views:  # 2. the same scan in two files
        if view.target.scheme != "local":
            first = by_key.setdefault(("uri", view.target.uri, view.target.name), view)
            if first is not view:
                groups.join(first.index, view.index, f"{view.target.uri} seen twice (same URI and name)")
    for view in views:  # 3. a host name and an address in common
        for name in sorted(view.names):
            for ip in sorted(view.ips):
                first = by_key.setdefault(("name-ip", name, ip), view)
                if first is not view:
                    groups.join(first.index, view.index,
                                f"{first.target.uri} and {view.target.uri} by host name {name} and address {ip}")
    by_uri: dict[str, View] = {}
    for view in views:
        by_uri.setdefault(view.target.uri, view)
    for vm_uri, guest_uri, how in pairs:  # 4. a VM and the guest scanned at the address it reports
        if vm_uri in by_uri and guest_uri in by_uri:
            groups.join(by_uri[vm_uri].index, by_uri[guest_uri].index, how)
    return groups


@dataclass
class Machines:
    """Which views are one machine: for each view, its group's root; for each root, its views' indexes."""

    groups: _Groups
    members: dict[int, list[int]]

    def root(self, index: int) -> int:
        return self.groups.find(index)

    def size(self, index: int) -> int:
        return len(self.members[self.root(index)])

    def merged(self, group: list[View]) -> TargetFacts:
        """The one target a complete group of views makes (a lone view is its own target)."""
        if len(group) == 1:
            return group[0].target
        return _merge(group, self.groups.how.get(self.root(group[0].index), []))


def machines(views: list[View], pairs: Iterable[tuple[str, str, str]] = ()) -> Machines:
    """Group the views into machines (by UUID, URI, host name and address, and discovery pairs)."""
    groups = _match(views, list(pairs))
    members: dict[int, list[int]] = {}
    for view in views:
        members.setdefault(groups.find(view.index), []).append(view.index)
    return Machines(groups, members)


def identity_facts(target: TargetFacts) -> TargetFacts:
    """The target with only the facts `identify` reads, so matching a large estate holds a few hundred bytes per
    machine instead of its facts (readiness evaluate's first pass)."""
    facts = target.facts or {}
    vm, host = facts.get("vm") or {}, facts.get("host") or {}
    return TargetFacts(
        uri=target.uri, name=target.name, scheme=target.scheme, collected_at=target.collected_at,
        facts={"vm": {k: vm.get(k) for k in ("uuid", "guest_hostname", "ip_addresses")},
               "host": {k: host.get(k) for k in ("hostname", "product_uuid")},
               "network": {"ipv4_addresses": (facts.get("network") or {}).get("ipv4_addresses")},
               "windows": {"netbios_name": (facts.get("windows") or {}).get("netbios_name")}})


def merge_targets(targets: Iterable[TargetFacts], pairs: Iterable[tuple[str, str, str]] = ()) -> list[TargetFacts]:
    """Every target once: views of one machine merged, the rest unchanged and in their order.

    `pairs` are (VM URI, guest URI, how) a guest scan made from vCenter discovery (readiness/guests.py).
    """
    views = [identify(i, t) for i, t in enumerate(targets)]
    found = machines(views, pairs)
    return [found.merged([views[i] for i in indexes])
            for indexes in sorted(found.members.values(), key=lambda indexes: indexes[0])]


def merge_stream(facts: Iterable[TargetFacts], schemes: set[str]) -> Iterator[TargetFacts]:
    """In a scan, merge only when views can overlap (several kinds of target); otherwise stream untouched."""
    if len(schemes - {"estate"}) < 2:
        yield from facts
        return
    yield from merge_targets(list(facts))


def _stamp(view: View) -> tuple[str, int, int]:
    """Newest first; on a tie, the guest's own view, then the earlier one."""
    return (view.target.collected_at or "", view.target.scheme in GUEST_SCHEMES, -view.index)


def _merge(group: list[View], how: list[str]) -> TargetFacts:
    alive = [v for v in group if not v.target.error] or group
    primary = next((v for v in alive if v.target.scheme in GUEST_SCHEMES), alive[0]).target
    winners: dict[str, View] = {}
    for view in group:
        for namespace in view.target.facts or {}:
            if namespace not in winners or _stamp(view) > _stamp(winners[namespace]):
                winners[namespace] = view
    facts = {ns: view.target.facts[ns] for ns, view in winners.items()}
    gaps: dict[str, str] = {}
    for view in group:
        for key, reason in view.target.gaps.items():
            owner = winners.get(key.split(".")[0])
            if owner is None or owner is view:
                gaps.setdefault(key, reason)
    roles: list[str] = []
    notes: list[str] = []
    for view in group:
        roles += [r for r in view.target.roles if r not in roles]
        notes += [n for n in view.target.notes if n not in notes]
    uris = ", ".join(v.target.uri for v in group)
    notes.append(f"one machine seen as {len(group)} views ({uris}), merged: matched " + "; ".join(how))
    for namespace, view in sorted(winners.items()):
        older = [v for v in group if v is not view and namespace in (v.target.facts or {})]
        if older:
            notes.append(f"{namespace} facts from {view.target.uri} ({view.target.collected_at or 'undated'}), "
                         "newer than " + ", ".join(f"{v.target.uri} ({v.target.collected_at or 'undated'})"
                                                   for v in older))
    by_source: dict[str, list[str]] = {}
    for namespace, view in sorted(winners.items()):
        by_source.setdefault(view.target.uri, []).append(namespace)
    notes.append("facts per view: " + "; ".join(f"{uri}: {', '.join(ns)}" for uri, ns in by_source.items()))
    notes += [f"{v.target.uri} could not be collected: {v.target.error}" for v in group
              if v.target.error and v not in alive]
    errors = [v.target.error for v in alive if v.target.error]
    return TargetFacts(
        uri=primary.uri, name=primary.name, scheme=primary.scheme, roles=roles, facts=facts, gaps=gaps,
        error=errors[0] if len(alive) == len(group) and errors else None,
        duration_s=round(sum(v.target.duration_s for v in group), 3),
        collected_at=max((v.target.collected_at for v in group), default=""), notes=notes)
