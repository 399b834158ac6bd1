"""Guest scans from vCenter discovery: one machine, one verdict.

vCenter sees a VM from outside (disks, snapshots, Tools, disk.EnableUUID); only the guest sees /etc/hosts,
its boot loader or its services.  With `--guests`, every VM a `vcenter://` scan reports (the selected ones
and the master targets) is also scanned from inside, through the ordinary SSH or WinRM target machinery, so
credentials (environment, agent, key files, ssh_config, one prompt), host-key rules, deadlines and workers
are exactly those of any `ssh://` or `winrm://` target:

- the OS family of the VM's configured guest ID picks the scheme: Linux over SSH (`--guest-user-linux`,
  default root), Windows over WinRM (`--guest-user-windows`, default Administrator);
- the address is the IPv4 address VMware Tools reports or the guest host name (`--guest-address` says which
  comes first; the other is the fallback), as the consultant would type it; ssh_config `Host` entries apply,
  so a guest reached through a jump host or on another port needs one line there, as with `ssh`.

A VM whose guest is not scanned (powered off, no Tools, no address, an OS family neither transport speaks,
two VMs reporting one address, a guest that refused the connection or the login, a different machine
answering at that address) keeps its VM-level findings and gets a note "guest not scanned: <why>", never a
silent skip and never a second, unknown target.  The views that were scanned are then merged by
readiness/merge.py (BIOS UUID in either byte order, host name and address), and a guest reached at the
address its VM reports is joined to that VM even when the guest could not show its UUID (a non-root login),
unless its UUID names another machine.
"""

from __future__ import annotations

import argparse
import ipaddress
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from readiness.facts import TargetFacts
from readiness.merge import merge_targets, uuid_forms
from readiness.rulepack import Rule
from readiness.scan import scan
from readiness.settings import ScanSettings
from readiness.targets import DEFAULT_PORTS, Target

#: OS family (checks/vsphere/model.py os_family) -> the scheme its guest is scanned with.
GUEST_SCHEMES = {"linux": "ssh", "windows": "winrm"}
NOT_SCANNED = "guest not scanned"


@dataclass(frozen=True)
class GuestOptions:
    """How guests are reached: the account per OS family and which reported address comes first."""

    linux_user: str = "root"
    windows_user: str = "Administrator"
    prefer: str = "ip"  # "ip": the address VMware Tools reports, else the host name; "name": the other way round


def add_guest_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("guest scans of vCenter VMs (--guests)")
    group.add_argument("--guests", action="store_true",
                       help="also scan each powered-on VM a vcenter:// target reports from inside (SSH for Linux, "
                            "WinRM for Windows) and judge VM and guest as one machine")
    group.add_argument("--guest-user-linux", default="root", metavar="USER",
                       help="SSH account on Linux guests (default root; keys, agent, ssh_config or "
                            "READINESS_SSH_PASSWORD as for ssh:// targets)")
    group.add_argument("--guest-user-windows", default="Administrator", metavar="USER",
                       help="WinRM account on Windows guests (default Administrator; password as for winrm://)")
    group.add_argument("--guest-address", choices=["ip", "name"], default="ip",
                       help="reach a guest at the IPv4 address VMware Tools reports (ip, default) or at its guest "
                            "host name (name); the other is the fallback")


def guest_options(args: argparse.Namespace) -> GuestOptions | None:
    """The options when --guests was given, else None."""
    if not getattr(args, "guests", False):
        return None
    return GuestOptions(linux_user=args.guest_user_linux, windows_user=args.guest_user_windows,
                        prefer=args.guest_address)


def _ipv4(text: str) -> str | None:
    try:
        address = ipaddress.ip_address(text.split("%")[0])
    except ValueError:
        return None
    usable = address.version == 4 and not (address.is_loopback or address.is_link_local or address.is_unspecified)
    return str(address) if usable else None


def guest_address(vm: dict[str, Any], prefer: str = "ip") -> str | None:
    """Where to reach the guest: an IPv4 address Tools reports or the guest host name, in the order asked."""
    ips = [ip for ip in map(_ipv4, vm.get("ip_addresses") or []) if ip]
    name = (vm.get("guest_hostname") or "").strip().rstrip(".")
    name = name if name and not name.lower().startswith("localhost") and " " not in name else ""
    ordered = [ips[0] if ips else "", name] if prefer == "ip" else [name, ips[0] if ips else ""]
    return next((a for a in ordered if a), None)


def is_vm(target: TargetFacts) -> bool:
    return target.scheme == "vcenter" and isinstance((target.facts or {}).get("vm"), dict)


def plan_guest(target: TargetFacts, options: GuestOptions) -> Target | str:
    """The ssh:// or winrm:// target that scans this VM's guest, or why it cannot be scanned."""
    vm = target.facts["vm"]
    if vm.get("power_state") != "poweredOn":
        return f"the VM is {vm.get('power_state') or 'in an unknown power state'}, not poweredOn"
    family = vm.get("os_family")
    scheme = GUEST_SCHEMES.get(family or "")
    if scheme is None:
        return (f"guest ID {vm.get('guest_id') or 'unset'} is neither Linux nor Windows, so neither SSH nor WinRM "
                "applies")
    running = (vm.get("tools") or {}).get("running_status")
    if running != "guestToolsRunning":
        return f"VMware Tools is not running in the guest ({running or 'no status'}), so vCenter knows no address"
    address = guest_address(vm, options.prefer)
    if address is None:
        return "VMware Tools reports neither an IPv4 address nor a host name for the guest"
    user = options.linux_user if scheme == "ssh" else options.windows_user
    roles = ("master-target",) if "master-target" in target.roles else ()
    # ssh: no port, so ssh_config's Port applies as with `ssh host`; WinRM: its usual https port
    return Target(scheme=scheme, host=address, user=user, port=None if scheme == "ssh" else DEFAULT_PORTS[scheme],
                  roles=roles)


def uuid_conflict(vm: TargetFacts, guest: TargetFacts) -> str | None:
    """Why the guest is another machine than the VM (its UUID in neither byte order), or None."""
    vm_forms = uuid_forms((vm.facts.get("vm") or {}).get("uuid"))
    guest_forms = uuid_forms((guest.facts.get("host") or {}).get("product_uuid"))
    if vm_forms is None or guest_forms is None or guest_forms[0] in vm_forms:
        return None
    return (f"{guest.uri} reports SMBIOS UUID {guest.facts['host']['product_uuid']}, not this VM's "
            f"{vm.facts['vm']['uuid']} (in either byte order): another machine answers at that address")


@dataclass
class GuestScan:
    """A scan whose vCenter VMs are followed by scans of their guests; `merge()` makes one target per machine."""

    targets: list[Target]
    settings: ScanSettings
    rules: list[Rule]
    workers: int
    options: GuestOptions
    pairs: list[tuple[str, str, str]] = field(default_factory=list)  # (VM URI, guest URI, how they were paired)

    def __iter__(self) -> Iterator[TargetFacts]:
        """Every view: other targets as they finish, guests next, then the VMs (with their guest notes)."""
        vms: list[TargetFacts] = []
        for result in scan(self.targets, self.settings, self.rules, self.workers):
            if is_vm(result):
                vms.append(result)
            else:
                yield result
        owners = self._plan(vms)
        guests = [target for _, target in owners.values()]
        for guest in scan(guests, self.settings, self.rules, self.workers):
            vm = owners[guest.uri][0]
            if guest.error:
                vm.notes.append(f"{NOT_SCANNED}: {guest.uri}: {guest.error}")
                continue
            conflict = uuid_conflict(vm, guest)
            if conflict:
                vm.notes.append(f"{NOT_SCANNED} as this VM: {conflict}")
                guest.notes.append(f"reached at the address VM {vm.name} reports, but {conflict}")
            else:
                vm.notes.append(f"guest scanned as {guest.uri}")
                self.pairs.append((vm.uri, guest.uri, f"{vm.uri} and {guest.uri} by vCenter discovery (the guest "
                                   f"scanned at {guest.uri.split('@')[-1]}, the address VMware Tools reports for "
                                   f"VM {vm.name})"))
            yield guest
        yield from vms

    def _plan(self, vms: list[TargetFacts]) -> dict[str, tuple[TargetFacts, Target]]:
        """Guest URI -> (its VM, the target); VMs that cannot be scanned get their note here."""
        given = {t.uri for t in self.targets}
        planned: dict[str, list[tuple[TargetFacts, Target]]] = {}
        for vm in vms:
            target = plan_guest(vm, self.options)
            if isinstance(target, str):
                vm.notes.append(f"{NOT_SCANNED}: {target}")
            elif target.uri in given:  # named on the command line too: scanned once, matched by its facts
                vm.notes.append(f"guest not scanned again: {target.uri} is a target of this run already")
            else:
                planned.setdefault(target.uri, []).append((vm, target))
        owners = {}
        for uri, claims in planned.items():
            if len(claims) == 1:
                owners[uri] = claims[0]
                continue
            names = ", ".join(sorted(vm.name for vm, _ in claims))
            for vm, _ in claims:  # which VM would answer is a guess: judge none of them on it
                vm.notes.append(f"{NOT_SCANNED}: VMs {names} all report the address {uri.split('@')[-1]}")
        return owners

    def merge(self, views: Iterable[TargetFacts]) -> Iterator[TargetFacts]:
        """One target per machine: readiness/merge.py's matching plus the pairs made by discovery.

        A generator, so the views are collected only when judging starts pulling: Ctrl-C then ends in the
        judging loop, which writes the report of what finished, as without --guests.
        """
        yield from merge_targets(list(views), pairs=self.pairs)

