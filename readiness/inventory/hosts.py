"""Inventory hosts -> Targets (Ansible's connection variables, our fields), and Ansible's --limit patterns."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from readiness.errors import UsageError
from readiness.inventory.model import Host, Inventory, fail
from readiness.targets import Target, parse_target, timeout_problem

#: Ansible's connection variables (and their pre-2.0 spellings) -> our target fields.
HOST_KEYS = ("ansible_host", "ansible_ssh_host")
PORT_KEYS = ("ansible_port", "ansible_ssh_port")
USER_KEYS = ("ansible_user", "ansible_ssh_user")
KEY_KEYS = ("ansible_ssh_private_key_file", "ansible_private_key_file")
BECOME_KEYS = ("ansible_become", "ansible_sudo")
#: ansible_connection -> our scheme (no ansible_connection: SSH, as Ansible's default `smart`).
CONNECTIONS = {"ssh": "ssh", "paramiko": "ssh", "smart": "ssh", "winrm": "winrm", "local": "local"}
#: ansible_winrm_transport -> our ?auth= (plaintext and ssl are Ansible's old names for basic).
WINRM_AUTH = {"ntlm": "ntlm", "kerberos": "kerberos", "credssp": "credssp", "basic": "basic",
              "plaintext": "basic", "ssl": "basic"}
WINRM_HTTP_PORT = 5985


def _first(variables: dict[str, Any], keys: Iterable[str]) -> Any:
    for key in keys:
        if variables.get(key) not in (None, ""):
            return variables[key]
    return None


def _words(value: Any, path: Path, line: int, what: str) -> tuple[str, ...]:
    if value in (None, ""):
        return ()
    if isinstance(value, str):
        return tuple(w.strip() for w in value.split(",") if w.strip())
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(str(v) for v in value)
    raise fail(path, line, f"{what} must be a list of names (or a comma-separated string)")


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "yes", "true", "on")


def to_targets(inv: Inventory, names: Iterable[str] | None = None, known_roles: Iterable[str] = (),
               known_scenarios: Iterable[str] = ()) -> list[Target]:
    """One Target per host (all, or the names given), group vars outermost first, host vars last."""
    roles_ok, scenarios_ok = set(known_roles), set(known_scenarios)
    ancestry = inv.ancestry()
    wanted = set(names) if names is not None else None
    return [_target(inv, host, ancestry[name], roles_ok, scenarios_ok)
            for name, host in inv.hosts.items() if wanted is None or name in wanted]


def _winrm_options(merged: dict[str, Any], port: int | None, host: Host) -> dict[str, str]:
    """ansible_winrm_transport / ansible_winrm_scheme -> ?auth= / ?transport= of a winrm:// target."""
    options: dict[str, str] = {}
    transports = merged.get("ansible_winrm_transport")
    if transports not in (None, ""):
        names = transports if isinstance(transports, list) else str(transports).split(",")
        known = [WINRM_AUTH[n.strip().lower()] for n in names if n.strip().lower() in WINRM_AUTH]
        if not known:
            raise fail(host.path, host.line, f"host {host.name!r}: ansible_winrm_transport {transports!r} is not "
                                             f"supported ({', '.join(WINRM_AUTH)})")
        options["auth"] = known[0]
    scheme = str(merged.get("ansible_winrm_scheme") or ("http" if port == WINRM_HTTP_PORT else "https")).lower()
    if scheme not in ("http", "https"):
        raise fail(host.path, host.line, f"host {host.name!r}: ansible_winrm_scheme must be http or https, "
                                         f"not {scheme!r}")
    if scheme == "http":
        options["transport"] = "http"
    return options


def _target(inv: Inventory, host: Host, groups: list[str], roles_ok: set[str], scenarios_ok: set[str]) -> Target:
    merged: dict[str, Any] = {}
    for group in groups:  # Ansible: inventory-file group vars, then group_vars/ files, then the host's
        merged.update(inv.groups[group].vars)
    for group in groups:
        merged.update(inv.groups[group].dir_vars)
    own = {**host.vars, **host.dir_vars}
    merged.update(own)
    name, path, line = host.name, host.path, host.line
    uri = merged.get("readiness_uri") or (name if "://" in name else None)
    try:
        base = parse_target(str(uri)) if uri else None
    except UsageError as exc:
        raise fail(path, line, str(exc)) from None
    connection = str(merged.get("ansible_connection") or "ssh").lower()
    if base is None and connection not in CONNECTIONS:
        raise fail(path, line, f"host {name!r}: ansible_connection {connection!r} is not supported "
                               f"({', '.join(CONNECTIONS)}); leave the host out with --limit '!{name}'")
    scheme = base.scheme if base else CONNECTIONS[connection]
    roles = _words(merged.get("readiness_roles"), path, line, f"host {name!r}: roles")
    scenarios = _words(merged.get("readiness_scenarios"), path, line, f"host {name!r}: scenarios")
    for role in roles:
        if roles_ok and role not in roles_ok:
            raise fail(path, line, f"host {name!r}: unknown role {role!r} (known: {', '.join(sorted(roles_ok))})")
    for scenario in scenarios:
        if scenarios_ok and scenario not in scenarios_ok:
            raise fail(path, line, f"host {name!r}: unknown scenario {scenario!r}")
    display = merged.get("readiness_name") or ("" if "://" in name else name)
    if scheme == "local":
        return Target(scheme="local", roles=roles, scenarios=scenarios, name=str(display))
    address = merged.get("readiness_host") or _first(merged, HOST_KEYS) or (base.host if base else name)
    port = (own.get("readiness_port") or _first(own, PORT_KEYS) or (base.port if base else None)
            or merged.get("readiness_port") or _first(merged, PORT_KEYS))
    try:
        port = int(port) if port not in (None, "") else None
    except (TypeError, ValueError):
        raise fail(path, line, f"host {name!r}: port {port!r} is not a number") from None
    if port is not None and not 0 < port < 65536:
        raise fail(path, line, f"host {name!r}: port {port} is out of range")
    options = dict(base.options) if base else {}
    if scheme == "winrm" and base is None:
        options.update(_winrm_options(merged, port, host))
    elif scheme == "ssh":
        key = merged.get("readiness_key") or _first(merged, KEY_KEYS)
        if key:
            options["key"] = str(key)
        become = merged.get("readiness_become", _first(merged, BECOME_KEYS))
        if become is not None and _truthy(become):
            options["become"] = "yes"
    if merged.get("readiness_timeout") is not None:
        if problem := timeout_problem(merged["readiness_timeout"]):
            raise fail(path, line, f"host {name!r}: {problem}")
        options["timeout"] = str(merged["readiness_timeout"])
    # A URI's own user and port beat group vars and defaults; the host's own fields beat the URI.
    user = (own.get("readiness_user") or _first(own, USER_KEYS) or (base.user if base else "")
            or merged.get("readiness_user") or _first(merged, USER_KEYS) or "")
    return Target(scheme=scheme, host=str(address), user=str(user), port=port, options=options, roles=roles,
                  scenarios=scenarios, name=str(display))


# -- --limit -------------------------------------------------------------------------------------------------


def limit(inv: Inventory, pattern: str) -> list[str]:
    """Ansible-style --limit over inventory names: `web,db`, `web:&prod`, `all:!broken`, globs."""
    split = "," in pattern or ":" in pattern
    terms = [t.strip() for t in re.split(r"[,:]", pattern) if t.strip()] if split else [pattern.strip()]
    if not terms:
        raise UsageError("--limit needs a pattern (a host, a group, a glob)")
    names = list(inv.hosts)
    selected: dict[str, None] = {}  # an ordered set: estates have tens of thousands of hosts
    for index, term in enumerate(terms):
        op = term[0] if term[0] in "!&" else ""
        matched = _match(inv, names, term.lstrip("!&"))
        if op == "!":
            selected = {n: None for n in (selected if index else names) if n not in matched}
        elif op == "&":
            selected = {n: None for n in selected if n in matched}
        else:
            selected.update(matched)
    if not selected:
        raise UsageError(f"--limit {pattern!r} matches no host of {inv.path}")
    return list(selected)


def _match(inv: Inventory, names: list[str], term: str) -> dict[str, None]:
    if term == "all" or term == "*":
        return dict.fromkeys(names)
    found: dict[str, None] = {}
    for group in inv.groups:
        if fnmatch.fnmatchcase(group, term):
            found.update(dict.fromkeys(inv.members(group)))
    found.update(dict.fromkeys(n for n in names if fnmatch.fnmatchcase(n, term)))
    return found
