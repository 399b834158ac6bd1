"""Inventories: which machines an estate scan judges, read from the files people already have.

Three formats, recognised by content (never by a flag the user can forget):

* the documented readiness YAML inventory (`version: 1`, `defaults`, `groups`, `hosts`),
* Ansible inventories as they are, YAML or INI (`ansible_host`, `ansible_port`,
  `ansible_user`, `ansible_ssh_private_key_file`, `ansible_become`, groups,
  `:vars`, `:children`, host ranges such as `web[01:20]`),
* a plain file of host names or target URIs, one per line.

YAML goes through PyYAML (with line numbers kept on every value).  Ansible's
INI dialect is not something `configparser` reads (hosts are keys without
values, values are shell-quoted, `[g:vars]` and `[g:children]` are special), and
ansible-core is GPL-3.0, heavy to import and configured by global state, so the
INI dialect is parsed here by a small line-oriented reader that reports the
file and line of every mistake.  A malformed inventory is a `UsageError`
(exit 2, one line).
"""

from __future__ import annotations

import fnmatch
import re
import shlex
import string
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from readiness.errors import UsageError
from readiness.targets import Target, parse_target

#: Ansible's connection variables (and their pre-2.0 spellings) -> our target fields.
HOST_KEYS = ("ansible_host", "ansible_ssh_host")
PORT_KEYS = ("ansible_port", "ansible_ssh_port")
USER_KEYS = ("ansible_user", "ansible_ssh_user")
KEY_KEYS = ("ansible_ssh_private_key_file", "ansible_private_key_file")
BECOME_KEYS = ("ansible_become", "ansible_sudo")
#: Fields of the readiness YAML format, per host and in defaults / group vars.
OWN_HOST_FIELDS = frozenset({"host", "uri", "name", "user", "port", "key", "roles", "scenarios", "become",
                             "timeout"})
OWN_TOP_FIELDS = frozenset({"version", "defaults", "groups", "hosts"})
OWN_GROUP_FIELDS = frozenset({"vars", "hosts", "children"})
RANGE = re.compile(r"\[([0-9a-zA-Z]+):([0-9a-zA-Z]+)(?::([0-9]+))?\]")


class Line(str):
    """A YAML scalar that remembers the line it came from."""

    line: int = 0


class LineDict(dict):  # type: ignore[type-arg]
    """A YAML mapping that remembers the line it came from."""

    line: int = 0


class _Loader(yaml.SafeLoader):
    """SafeLoader keeping line numbers, so every inventory error can say where."""


def _construct_str(loader: _Loader, node: yaml.ScalarNode) -> Line:
    value = Line(loader.construct_scalar(node))
    value.line = node.start_mark.line + 1
    return value


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    value = LineDict(loader.construct_mapping(node, deep=True))
    value.line = node.start_mark.line + 1
    return value


_Loader.add_constructor("tag:yaml.org,2002:str", _construct_str)
_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)


@dataclass
class Host:
    """One inventory host before it becomes a Target: its name, variables and groups."""

    name: str
    line: int
    vars: dict[str, Any] = field(default_factory=dict)
    groups: set[str] = field(default_factory=set)


@dataclass
class Group:
    name: str
    hosts: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)
    line: int = 0


@dataclass
class Inventory:
    """Hosts in file order, groups by name, and where they came from."""

    path: Path
    format: str
    hosts: dict[str, Host] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)

    def group(self, name: str, line: int = 0) -> Group:
        if name not in self.groups:
            self.groups[name] = Group(name=name, line=line)
        return self.groups[name]

    def add_host(self, name: str, line: int, group: str, hostvars: dict[str, Any]) -> None:
        host = self.hosts.setdefault(name, Host(name=name, line=line))
        host.vars.update(hostvars)
        grp = self.group(group, line)
        if name not in grp.hosts:
            grp.hosts.append(name)

    def members(self, group: str, seen: frozenset[str] = frozenset()) -> list[str]:
        """Every host of a group and its children (cycles are reported, not followed forever)."""
        if group in seen:
            raise UsageError(f"{self.path}:{self.groups[group].line}: group {group!r} is its own descendant")
        grp = self.groups[group]
        names = list(grp.hosts)
        for child in grp.children:
            if child not in self.groups:
                raise UsageError(f"{self.path}:{grp.line}: group {group!r} names unknown child group {child!r}")
            names += [n for n in self.members(child, seen | {group}) if n not in names]
        return names

    def ancestry(self) -> dict[str, list[str]]:
        """host -> its groups, outermost first, so inner groups' vars win (as in Ansible)."""
        depth: dict[str, int] = {}

        def walk(name: str, level: int, seen: frozenset[str]) -> None:
            if name in seen:
                raise UsageError(f"{self.path}:{self.groups[name].line}: group {name!r} is its own descendant")
            if depth.get(name, -1) >= level:
                return
            depth[name] = level
            for child in self.groups[name].children:
                if child not in self.groups:
                    raise UsageError(f"{self.path}:{self.groups[name].line}: group {name!r} names unknown "
                                     f"child group {child!r}")
                walk(child, level + 1, seen | {name})

        for name in self.groups:
            walk(name, 1 if name != "all" else 0, frozenset())
        # Every host is in `all` (Ansible's implicit group), whose vars come first.
        result: dict[str, list[str]] = {h: ["all"] if "all" in self.groups else [] for h in self.hosts}
        for name in sorted(self.groups, key=lambda g: (depth.get(g, 1), g)):
            for host in self.members(name):
                if name not in result[host]:
                    result[host].append(name)
        return result


# -- reading ---------------------------------------------------------------------------------------------------


def load_inventory(path: Path) -> Inventory:
    """Read any supported inventory file; UsageError with file and line on any mistake."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read inventory {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"inventory {path} is not UTF-8 text: {exc}") from None
    is_yaml_name = path.suffix.lower() in (".yml", ".yaml", ".json")
    looks_ini = any(line.strip().startswith("[") for line in text.splitlines())
    if is_yaml_name or not looks_ini:
        try:
            data = yaml.load(text, Loader=_Loader)
        except yaml.YAMLError as exc:
            if is_yaml_name:
                mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
                where = f":{mark.line + 1}" if mark else ""
                problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
                raise UsageError(f"{path}{where}: invalid YAML inventory: {problem}") from None
            data = None
        if isinstance(data, dict):
            if "version" in data:
                return _read_own(path, data)
            return _read_ansible_yaml(path, data)
        if is_yaml_name and data is not None:
            raise UsageError(f"{path}:1: a YAML inventory must be a mapping (groups, or version/hosts/groups)")
    return _read_ini(path, text)


def _fail(path: Path, line: int, message: str) -> UsageError:
    return UsageError(f"{path}:{line}: {message}")


def _line(value: Any, default: int = 1) -> int:
    return getattr(value, "line", 0) or default


def expand_range(name: str, path: Path, line: int) -> list[str]:
    """Ansible host ranges: `web[01:03]` -> web01 web02 web03, `db-[a:c]` -> db-a db-b db-c."""
    match = RANGE.search(name)
    if not match:
        if "[" in name or "]" in name:
            raise _fail(path, line, f"bad host range in {name!r} (use [01:20] or [a:f])")
        return [name]
    start, end, stride = match.group(1), match.group(2), int(match.group(3) or 1)
    head, tail = name[:match.start()], name[match.end():]
    if start.isdigit() and end.isdigit():
        if int(start) > int(end):
            raise _fail(path, line, f"host range {name!r} runs backwards")
        width = len(start) if start.startswith("0") else 0
        items = [str(i).zfill(width) for i in range(int(start), int(end) + 1, stride)]
    elif len(start) == 1 and len(end) == 1 and start.isalpha() and end.isalpha():
        letters = string.ascii_letters
        if letters.index(start) > letters.index(end):
            raise _fail(path, line, f"host range {name!r} runs backwards")
        items = list(letters[letters.index(start):letters.index(end) + 1:stride])
    else:
        raise _fail(path, line, f"bad host range in {name!r} (use [01:20] or [a:f])")
    return [n for item in items for n in expand_range(head + item + tail, path, line)]


def _vars(value: Any, path: Path, line: int, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _fail(path, _line(value, line), f"{what} must be a mapping of variables")
    return dict(value)


def _read_ansible_yaml(path: Path, data: dict[str, Any]) -> Inventory:
    """Ansible's YAML inventory: group -> {hosts: {name: vars}, vars, children: {group: ...}}."""
    inv = Inventory(path=path, format="ansible-yaml")

    def read_group(name: str, body: Any, line: int) -> None:
        grp = inv.group(str(name), line)
        if body is None:
            return
        if not isinstance(body, dict):
            raise _fail(path, _line(body, line), f"group {name!r} must be a mapping with hosts, vars or children")
        unknown = set(body) - OWN_GROUP_FIELDS
        if unknown:
            key = sorted(unknown)[0]
            raise _fail(path, _line(key, line), f"group {name!r} has unknown key {key!r} (hosts, vars, children)")
        grp.vars.update(_vars(body.get("vars"), path, line, f"vars of group {name!r}"))
        hosts = body.get("hosts") or {}
        if not isinstance(hosts, dict):
            raise _fail(path, _line(hosts, line), f"hosts of group {name!r} must be a mapping (host: vars)")
        for host, hostvars in hosts.items():
            hline = _line(host, line)
            for expanded in expand_range(str(host), path, hline):
                inv.add_host(expanded, hline, grp.name, _vars(hostvars, path, hline, f"vars of host {host!r}"))
        children = body.get("children") or {}
        if not isinstance(children, dict):
            raise _fail(path, _line(children, line), f"children of group {name!r} must be a mapping of groups")
        for child, child_body in children.items():
            if str(child) not in grp.children:
                grp.children.append(str(child))
            read_group(str(child), child_body, _line(child, line))

    for name, body in data.items():
        read_group(str(name), body, _line(name))
    return inv


def _read_own(path: Path, data: dict[str, Any]) -> Inventory:
    """The readiness YAML inventory (documented in README): version 1, defaults, groups, hosts."""
    inv = Inventory(path=path, format="readiness")
    line = _line(data)
    unknown = set(data) - OWN_TOP_FIELDS
    if unknown:
        key = sorted(unknown)[0]
        raise _fail(path, _line(key, line), f"unknown top-level key {key!r} (version, defaults, groups, hosts)")
    if data.get("version") != 1:
        raise _fail(path, _line(data.get("version"), line), "version must be 1")
    inv.group("all", line).vars.update(_own_vars(data.get("defaults"), path, line, "defaults"))

    def read_hosts(entries: Any, group: str, gline: int) -> None:
        if entries is None:
            return
        if not isinstance(entries, list):
            raise _fail(path, _line(entries, gline), f"hosts of {group!r} must be a list")
        for entry in entries:
            if isinstance(entry, str):
                hline = _line(entry, gline)
                for name in expand_range(entry, path, hline):
                    inv.add_host(name, hline, group, {})
                continue
            if not isinstance(entry, dict) or not (entry.get("host") or entry.get("uri")):
                raise _fail(path, _line(entry, gline), "a host entry is a name, or a mapping with host: (or uri:)")
            hline = _line(entry, gline)
            hostvars = _own_vars(entry, path, hline, "host entry")
            name = str(entry.get("name") or entry.get("host") or entry.get("uri"))
            inv.add_host(name, hline, group, hostvars)

    groups = data.get("groups") or {}
    if not isinstance(groups, dict):
        raise _fail(path, _line(groups, line), "groups must be a mapping: name -> {vars, hosts, children}")
    for name, body in groups.items():
        gline = _line(name, line)
        grp = inv.group(str(name), gline)
        if body is None:
            continue
        if not isinstance(body, dict) or set(body) - OWN_GROUP_FIELDS:
            raise _fail(path, _line(body, gline), f"group {name!r} takes vars, hosts and children")
        grp.vars.update(_own_vars(body.get("vars"), path, gline, f"vars of group {name!r}"))
        read_hosts(body.get("hosts"), grp.name, gline)
        children = body.get("children") or []
        if not isinstance(children, list):
            raise _fail(path, _line(children, gline), f"children of group {name!r} must be a list of group names")
        grp.children += [str(c) for c in children]
    read_hosts(data.get("hosts"), "ungrouped", line)
    return inv


def _own_vars(value: Any, path: Path, line: int, what: str) -> dict[str, Any]:
    result = _vars(value, path, line, what)
    unknown = set(result) - OWN_HOST_FIELDS
    if unknown:
        key = sorted(unknown)[0]
        raise _fail(path, _line(key, line), f"{what}: unknown field {key!r} ({', '.join(sorted(OWN_HOST_FIELDS))})")
    return {f"readiness_{k}": v for k, v in result.items()}


def _read_ini(path: Path, text: str) -> Inventory:
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
                raise _fail(path, number, f"bad section header {line!r} (use [group], [group:vars], "
                                          "[group:children])")
            plain = False
            section, kind = match.group(1), match.group(2) or "hosts"
            inv.group(section, number)
            continue
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError as exc:
            raise _fail(path, number, f"cannot split {line!r}: {exc}") from None
        if not tokens:
            continue
        if kind == "children":
            if len(tokens) != 1:
                raise _fail(path, number, f"[{section}:children] lists one group name per line, got {line!r}")
            if tokens[0] not in inv.groups[section].children:
                inv.groups[section].children.append(tokens[0])
            continue
        if kind == "vars":
            key, sep, value = line.partition("=")
            if not sep or not key.strip():
                raise _fail(path, number, f"[{section}:vars] wants key=value, got {line!r}")
            inv.groups[section].vars[key.strip()] = _ini_value(value.strip(), path, number)
            continue
        name, hostvars = tokens[0], {}
        for token in tokens[1:]:
            key, sep, value = token.partition("=")
            if not sep or not key:
                raise _fail(path, number, f"host {name!r}: expected key=value, got {token!r}")
            hostvars[key] = _ini_value(value, path, number)
        if "://" in name:
            hostvars["readiness_uri"] = name
        else:
            name, port = _host_port(name, path, number)
            if port is not None:
                hostvars.setdefault("ansible_port", port)
        for expanded in expand_range(name, path, number):
            inv.add_host(expanded, number, section, dict(hostvars))
    if plain:
        inv.format = "hosts"
    return inv


def _host_port(name: str, path: Path, line: int) -> tuple[str, int | None]:
    """`host:2222` (Ansible INI) and `[::1]:2222`; a bare IPv6 address keeps its colons."""
    if name.startswith("[") and "]:" in name and RANGE.match(name) is None:
        host, _, port = name[1:].partition("]:")
    elif RANGE.sub("", name).count(":") == 1:
        host, _, port = name.rpartition(":")
    else:
        return name, None
    if not port.isdigit():
        raise _fail(path, line, f"bad port in {name!r}")
    return host, int(port)


def _ini_value(value: str, path: Path, line: int) -> Any:
    """INI values are strings, except what YAML reads as a number or boolean (as Ansible does)."""
    if not value:
        return ""
    if value[0] in "'\"":
        try:
            return shlex.split(value)[0]
        except (ValueError, IndexError):
            raise _fail(path, line, f"unbalanced quotes in {value!r}") from None
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        return value
    return parsed if isinstance(parsed, (bool, int, float, list)) else value


# -- turning hosts into targets --------------------------------------------------------------------------------


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
        return tuple(value)
    raise _fail(path, line, f"{what} must be a list of names (or a comma-separated string)")


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


def _target(inv: Inventory, host: Host, groups: list[str], roles_ok: set[str], scenarios_ok: set[str]) -> Target:
    merged: dict[str, Any] = {}
    for group in groups:
        merged.update(inv.groups[group].vars)
    merged.update(host.vars)
    name, line = host.name, host.line
    uri = merged.get("readiness_uri") or (name if "://" in name else None)
    try:
        base = parse_target(str(uri)) if uri else None
    except UsageError as exc:
        raise _fail(inv.path, line, str(exc)) from None
    address = merged.get("readiness_host") or _first(merged, HOST_KEYS) or (base.host if base else name)
    port = (host.vars.get("readiness_port") or _first(host.vars, PORT_KEYS) or (base.port if base else None)
            or merged.get("readiness_port") or _first(merged, PORT_KEYS))
    try:
        port = int(port) if port not in (None, "") else None
    except (TypeError, ValueError):
        raise _fail(inv.path, line, f"host {name!r}: port {port!r} is not a number") from None
    if port is not None and not 0 < port < 65536:
        raise _fail(inv.path, line, f"host {name!r}: port {port} is out of range")
    options = dict(base.options) if base else {}
    key = merged.get("readiness_key") or _first(merged, KEY_KEYS)
    if key:
        options["key"] = str(key)
    become = merged.get("readiness_become", _first(merged, BECOME_KEYS))
    if become is not None and _truthy(become):
        options["become"] = "yes"
    if merged.get("readiness_timeout") is not None:
        options["timeout"] = str(merged["readiness_timeout"])
    roles = _words(merged.get("readiness_roles"), inv.path, line, f"host {name!r}: roles")
    scenarios = _words(merged.get("readiness_scenarios"), inv.path, line, f"host {name!r}: scenarios")
    for role in roles:
        if roles_ok and role not in roles_ok:
            raise _fail(inv.path, line, f"host {name!r}: unknown role {role!r} (known: {', '.join(sorted(roles_ok))})")
    for scenario in scenarios:
        if scenarios_ok and scenario not in scenarios_ok:
            raise _fail(inv.path, line, f"host {name!r}: unknown scenario {scenario!r}")
    # A URI's own user and port beat group vars and defaults; the host's own fields beat the URI.
    user = (host.vars.get("readiness_user") or _first(host.vars, USER_KEYS) or (base.user if base else "")
            or merged.get("readiness_user") or _first(merged, USER_KEYS) or "")
    display = merged.get("readiness_name") or ("" if "://" in name else name)
    return Target(scheme=base.scheme if base else "ssh", host=str(address), user=str(user), port=port,
                  options=options, roles=roles, scenarios=scenarios, name=str(display))


# -- --limit -------------------------------------------------------------------------------------------------


def limit(inv: Inventory, pattern: str) -> list[str]:
    """Ansible-style --limit over inventory names: `web,db`, `web:&prod`, `all:!broken`, globs."""
    split = "," in pattern or ":" in pattern
    terms = [t.strip() for t in re.split(r"[,:]", pattern) if t.strip()] if split else [pattern.strip()]
    names = list(inv.hosts)
    selected: list[str] = []
    for index, term in enumerate(terms):
        op = term[0] if term[0] in "!&" else ""
        matched = _match(inv, names, term.lstrip("!&"))
        if op == "!":
            selected = [n for n in (selected if index else names) if n not in matched]
        elif op == "&":
            selected = [n for n in selected if n in matched]
        else:
            selected += [n for n in matched if n not in selected]
    if not selected:
        raise UsageError(f"--limit {pattern!r} matches no host of {inv.path}")
    return selected


def _match(inv: Inventory, names: list[str], term: str) -> list[str]:
    if term == "all" or term == "*":
        return list(names)
    found: list[str] = []
    for group in inv.groups:
        if fnmatch.fnmatchcase(group, term):
            found += [h for h in inv.members(group) if h not in found]
    found += [n for n in names if fnmatch.fnmatchcase(n, term) and n not in found]
    return found


def inventory_targets(path: Path, pattern: str | None = None, known_roles: Iterable[str] = (),
                      known_scenarios: Iterable[str] = ()) -> list[Target]:
    """The CLI's entry point: read, turn into targets, apply --limit."""
    inv = load_inventory(path)
    inv.ancestry()  # group structure errors (cycles, unknown children) even when no host is listed
    if not inv.hosts:
        raise UsageError(f"inventory {path} names no host")
    names = limit(inv, pattern) if pattern else None
    return to_targets(inv, names, known_roles, known_scenarios)
