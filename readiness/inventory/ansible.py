"""Ansible inventories as they are: YAML, INI, and inventory directories with group_vars/ and host_vars/.

Ansible's INI dialect is not something `configparser` reads (hosts are keys without values, values are
shell-quoted, `[g:vars]` and `[g:children]` are special), and ansible-core is GPL-3.0, heavy to import and
configured by global state, so the dialect is parsed here by a small line-oriented reader that reports the
file and line of every mistake.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from readiness.errors import UsageError
from readiness.inventory.model import (
    RANGE,
    Inventory,
    LineLoader,
    expand_range,
    fail,
    line_of,
    variables,
)

GROUP_FIELDS = frozenset({"vars", "hosts", "children"})
#: File names in group_vars/ and host_vars/ that Ansible reads (`all`, `all.yml`, `all.yaml`, `all.json`).
VARS_SUFFIXES = ("", ".yml", ".yaml", ".json")
#: Backup and editor files Ansible skips in an inventory directory.
IGNORED_SUFFIXES = (".orig", ".bak", ".retry", ".pyc", ".pyo", "~", ".swp")


def read_ansible_yaml(path: Path, data: dict[str, Any]) -> Inventory:
    """Ansible's YAML inventory: group -> {hosts: {name: vars}, vars, children: {group: ...}}."""
    inv = Inventory(path=path, format="ansible-yaml")

    def read_group(name: str, body: Any, line: int) -> None:
        grp = inv.group(str(name), line)
        if body is None:
            return
        if not isinstance(body, dict):
            raise fail(path, line_of(body, line), f"group {name!r} must be a mapping with hosts, vars or children")
        unknown = set(body) - GROUP_FIELDS
        if unknown:
            key = sorted(unknown)[0]
            raise fail(path, line_of(key, line), f"group {name!r} has unknown key {key!r} (hosts, vars, children)")
        grp.vars.update(variables(body.get("vars"), path, line, f"vars of group {name!r}"))
        hosts = body.get("hosts") or {}
        if not isinstance(hosts, dict):
            raise fail(path, line_of(hosts, line), f"hosts of group {name!r} must be a mapping (host: vars)")
        for host, hostvars in hosts.items():
            hline = line_of(host, line)
            for expanded in expand_range(str(host), path, hline):
                inv.add_host(expanded, hline, grp.name, variables(hostvars, path, hline, f"vars of host {host!r}"))
        children = body.get("children") or {}
        if not isinstance(children, dict):
            raise fail(path, line_of(children, line), f"children of group {name!r} must be a mapping of groups")
        for child, child_body in children.items():
            if str(child) not in grp.children:
                grp.children.append(str(child))
            read_group(str(child), child_body, line_of(child, line))

    for name, body in data.items():
        read_group(str(name), body, line_of(name))
    return inv


def read_ini(path: Path, text: str) -> Inventory:
    """Ansible's INI dialect, and plain host lists (hosts before any [section] are ungrouped)."""
    inv = Inventory(path=path, format="ansible-ini")
    section, kind = "ungrouped", "hosts"
    header = re.compile(r"^\[([^\]\s:]+)(?::(vars|children))?\]$")
    plain = True
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            match = header.match(line)
            if not match:
                raise fail(path, number, f"bad section header {line!r} (use [group], [group:vars], "
                                         "[group:children])")
            plain = False
            section, kind = match.group(1), match.group(2) or "hosts"
            inv.group(section, number)
            continue
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError as exc:
            raise fail(path, number, f"cannot split {line!r}: {exc}") from None
        if not tokens:
            continue
        if kind == "children":
            if len(tokens) != 1:
                raise fail(path, number, f"[{section}:children] lists one group name per line, got {line!r}")
            if tokens[0] not in inv.groups[section].children:
                inv.groups[section].children.append(tokens[0])
            continue
        if kind == "vars":
            key, sep, value = line.partition("=")
            if not sep or not key.strip():
                raise fail(path, number, f"[{section}:vars] wants key=value, got {line!r}")
            inv.groups[section].vars[key.strip()] = ini_value(value.strip(), path, number)
            continue
        name, hostvars = tokens[0], {}
        for token in tokens[1:]:
            key, sep, value = token.partition("=")
            if not sep or not key:
                raise fail(path, number, f"host {name!r}: expected key=value, got {token!r}")
            hostvars[key] = ini_value(value, path, number)
        if "://" in name:
            hostvars["readiness_uri"] = name
        else:
            name, port = host_port(name, path, number)
            if port is not None:
                hostvars.setdefault("ansible_port", port)
        for expanded in expand_range(name, path, number):
            inv.add_host(expanded, number, section, dict(hostvars))
    if plain:
        inv.format = "hosts"
    return inv


def host_port(name: str, path: Path, line: int) -> tuple[str, int | None]:
    """`host:2222` (Ansible INI) and `[::1]:2222`; a bare IPv6 address keeps its colons."""
    if name.startswith("[") and "]:" in name and RANGE.match(name) is None:
        host, _, port = name[1:].partition("]:")
    elif RANGE.sub("", name).count(":") == 1:
        host, _, port = name.rpartition(":")
    else:
        return name, None
    if not port.isdigit():
        raise fail(path, line, f"bad port in {name!r}")
    return host, int(port)


def ini_value(value: str, path: Path, line: int) -> Any:
    """INI values are strings, except what YAML reads as a number or boolean (as Ansible does)."""
    if not value:
        return ""
    if value[0] in "'\"":
        try:
            return shlex.split(value)[0]
        except (ValueError, IndexError):
            raise fail(path, line, f"unbalanced quotes in {value!r}") from None
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        return value
    return parsed if isinstance(parsed, (bool, int, float, list)) else value


# -- inventory directories --------------------------------------------------------------------------------------


def read_directory(path: Path, read_file: Callable[[Path], Inventory]) -> Inventory:
    """An inventory directory as Ansible reads it: its `hosts*` files, then group_vars/ and host_vars/."""
    sources = sorted(p for p in path.iterdir() if p.is_file() and p.name.startswith("hosts")
                     and not p.name.endswith(IGNORED_SUFFIXES))
    if not sources:
        raise UsageError(f"inventory directory {path} has no hosts file (hosts, hosts.ini, hosts.yml ...)")
    inv = Inventory(path=path, format="ansible-dir")
    for source in sources:
        inv.merge(read_file(source))
    for name, group in inv.groups.items():
        group.dir_vars.update(_vars_for(path / "group_vars", name))
    for name, host in inv.hosts.items():
        host.dir_vars.update(_vars_for(path / "host_vars", name))
    return inv


def _vars_for(folder: Path, name: str) -> dict[str, Any]:
    """group_vars/<name>(.yml|.yaml|.json), or every file of the directory group_vars/<name>/, in name order."""
    found: dict[str, Any] = {}
    if not folder.is_dir():
        return found
    for suffix in VARS_SUFFIXES:
        candidate = folder / f"{name}{suffix}"
        if candidate.is_file():
            found.update(_vars_file(candidate))
    directory = folder / name
    if directory.is_dir():
        for file in sorted(directory.rglob("*")):
            if file.is_file() and file.suffix in VARS_SUFFIXES and not file.name.endswith(IGNORED_SUFFIXES):
                found.update(_vars_file(file))
    return found


def _vars_file(path: Path) -> dict[str, Any]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=LineLoader)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}:1: not UTF-8 text") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UsageError(f"{path}:{mark.line + 1 if mark else 1}: invalid YAML: {problem}") from None
    return variables(data, path, 1, "a variables file")
