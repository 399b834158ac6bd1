"""The readiness YAML inventory (documented in README): `version: 1`, `defaults`, `groups`, `hosts`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from readiness.inventory.model import Inventory, expand_range, fail, line_of, variables

#: Fields of the readiness YAML format, per host and in defaults / group vars.
OWN_HOST_FIELDS = frozenset({"host", "uri", "name", "user", "port", "key", "roles", "scenarios", "become",
                             "timeout"})
OWN_TOP_FIELDS = frozenset({"version", "defaults", "groups", "hosts"})
GROUP_FIELDS = frozenset({"vars", "hosts", "children"})


def own_vars(value: Any, path: Path, line: int, what: str) -> dict[str, Any]:
    """Our fields, renamed `readiness_*` so they live beside Ansible's variables without clashing."""
    result = variables(value, path, line, what)
    unknown = set(result) - OWN_HOST_FIELDS
    if unknown:
        key = sorted(unknown)[0]
        raise fail(path, line_of(key, line), f"{what}: unknown field {key!r} ({', '.join(sorted(OWN_HOST_FIELDS))})")
    return {f"readiness_{k}": v for k, v in result.items()}


def read_own(path: Path, data: dict[str, Any]) -> Inventory:
    inv = Inventory(path=path, format="readiness")
    line = line_of(data)
    unknown = set(data) - OWN_TOP_FIELDS
    if unknown:
        key = sorted(unknown)[0]
        raise fail(path, line_of(key, line), f"unknown top-level key {key!r} (version, defaults, groups, hosts)")
    if data.get("version") != 1:
        raise fail(path, line_of(data.get("version"), line), "version must be 1")
    inv.group("all", line).vars.update(own_vars(data.get("defaults"), path, line, "defaults"))

    def read_hosts(entries: Any, group: str, gline: int) -> None:
        if entries is None:
            return
        if not isinstance(entries, list):
            raise fail(path, line_of(entries, gline), f"hosts of {group!r} must be a list")
        for entry in entries:
            if isinstance(entry, str):
                hline = line_of(entry, gline)
                for name in expand_range(entry, path, hline):
                    inv.add_host(name, hline, group, {})
                continue
            if not isinstance(entry, dict) or not (entry.get("host") or entry.get("uri")):
                raise fail(path, line_of(entry, gline), "a host entry is a name, or a mapping with host: (or uri:)")
            hline = line_of(entry, gline)
            hostvars = own_vars(entry, path, hline, "host entry")
            name = str(entry.get("name") or entry.get("host") or entry.get("uri"))
            inv.add_host(name, hline, group, hostvars)

    groups = data.get("groups") or {}
    if not isinstance(groups, dict):
        raise fail(path, line_of(groups, line), "groups must be a mapping: name -> {vars, hosts, children}")
    for name, body in groups.items():
        gline = line_of(name, line)
        grp = inv.group(str(name), gline)
        if body is None:
            continue
        if not isinstance(body, dict) or set(body) - GROUP_FIELDS:
            raise fail(path, line_of(body, gline), f"group {name!r} takes vars, hosts and children")
        grp.vars.update(own_vars(body.get("vars"), path, gline, f"vars of group {name!r}"))
        read_hosts(body.get("hosts"), grp.name, gline)
        children = body.get("children") or []
        if not isinstance(children, list):
            raise fail(path, line_of(children, gline), f"children of group {name!r} must be a list of group names")
        grp.children += [str(c) for c in children]
    read_hosts(data.get("hosts"), "ungrouped", line)
    return inv
