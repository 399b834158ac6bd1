"""The inventory model every reader fills: hosts in file order, groups, variables, and where each came from.

Host ranges (`web[01:20]`) are counted before they are expanded and expanded lazily, so a typo such as
`web[00000000:99999999]` is a one-line error instead of a MemoryError after minutes of work.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from readiness.errors import UsageError

#: The most hosts one inventory may name (ranges included): far above any estate, far below exhausting memory.
MAX_HOSTS = 100_000
RANGE = re.compile(r"\[([0-9a-zA-Z]+):([0-9a-zA-Z]+)(?::([0-9]+))?\]")


class Line(str):
    """A YAML scalar that remembers the line it came from."""

    line: int = 0


class LineDict(dict):  # type: ignore[type-arg]
    """A YAML mapping that remembers the line it came from."""

    line: int = 0


class LineLoader(yaml.SafeLoader):
    """SafeLoader keeping line numbers, so every inventory error can say where."""


def _construct_str(loader: LineLoader, node: yaml.ScalarNode) -> Line:
    value = Line(loader.construct_scalar(node))
    value.line = node.start_mark.line + 1
    return value


def _construct_map(loader: LineLoader, node: yaml.MappingNode) -> LineDict:
    value = LineDict(loader.construct_mapping(node, deep=True))
    value.line = node.start_mark.line + 1
    return value


LineLoader.add_constructor("tag:yaml.org,2002:str", _construct_str)
LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)


def fail(path: Path, line: int, message: str) -> UsageError:
    return UsageError(f"{path}:{line}: {message}")


def line_of(value: Any, default: int = 1) -> int:
    return getattr(value, "line", 0) or default


@dataclass
class Host:
    """One inventory host before it becomes a Target: its name, variables, and the file and line naming it."""

    name: str
    line: int
    path: Path
    vars: dict[str, Any] = field(default_factory=dict)
    #: host_vars/<host> of an Ansible inventory directory: they beat the inventory file's host vars.
    dir_vars: dict[str, Any] = field(default_factory=dict)


@dataclass
class Group:
    name: str
    path: Path
    hosts: dict[str, None] = field(default_factory=dict)  # an ordered set: file order, O(1) membership
    children: list[str] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)
    line: int = 0
    #: group_vars/<group> of an Ansible inventory directory: they beat every group's vars from inventory files.
    dir_vars: dict[str, Any] = field(default_factory=dict)


@dataclass
class Inventory:
    """Hosts in file order, groups by name, and where they came from (a file, or an Ansible directory)."""

    path: Path
    format: str
    hosts: dict[str, Host] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)

    def group(self, name: str, line: int = 0, path: Path | None = None) -> Group:
        if name not in self.groups:
            self.groups[name] = Group(name=name, path=path or self.path, line=line)
        return self.groups[name]

    def add_host(self, name: str, line: int, group: str, hostvars: dict[str, Any], path: Path | None = None) -> None:
        if name not in self.hosts and len(self.hosts) >= MAX_HOSTS:
            raise fail(path or self.path, line, f"the inventory names more than {MAX_HOSTS:,} hosts")
        host = self.hosts.setdefault(name, Host(name=name, line=line, path=path or self.path))
        host.vars.update(hostvars)
        self.group(group, line, path).hosts.setdefault(name)

    def merge(self, other: Inventory) -> None:
        """Add another source of the same inventory (Ansible reads every file of an inventory directory)."""
        for name, source in other.hosts.items():
            if name not in self.hosts and len(self.hosts) >= MAX_HOSTS:
                raise fail(source.path, source.line, f"the inventory names more than {MAX_HOSTS:,} hosts")
            self.hosts.setdefault(name, Host(name=name, line=source.line, path=source.path)).vars.update(source.vars)
        for name, grp in other.groups.items():
            mine = self.group(name, grp.line, grp.path)
            mine.vars.update(grp.vars)
            mine.children += [c for c in grp.children if c not in mine.children]
            mine.hosts.update(grp.hosts)

    def _child_error(self, group: str, child: str) -> UsageError:
        grp = self.groups[group]
        return fail(grp.path, grp.line, f"group {group!r} names unknown child group {child!r}")

    def members(self, group: str, seen: frozenset[str] = frozenset()) -> list[str]:
        """Every host of a group and its children (cycles are reported, not followed forever)."""
        grp = self.groups[group]
        if group in seen:
            raise fail(grp.path, grp.line, f"group {group!r} is its own descendant")
        names = dict(grp.hosts)
        for child in grp.children:
            if child not in self.groups:
                raise self._child_error(group, child)
            names.update(dict.fromkeys(self.members(child, seen | {group})))
        return list(names)

    def ancestry(self) -> dict[str, list[str]]:
        """host -> its groups, outermost first, so inner groups' vars win (as in Ansible)."""
        depth: dict[str, int] = {}

        def walk(name: str, level: int, seen: frozenset[str]) -> None:
            if name in seen:
                grp = self.groups[name]
                raise fail(grp.path, grp.line, f"group {name!r} is its own descendant")
            if depth.get(name, -1) >= level:
                return
            depth[name] = level
            for child in self.groups[name].children:
                if child not in self.groups:
                    raise self._child_error(name, child)
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


def _range_items(match: re.Match[str], name: str, path: Path, line: int) -> range | str:
    """The items one `[a:b(:stride)]` stands for: a range of numbers, or a string of letters."""
    start, end, stride = match.group(1), match.group(2), int(match.group(3) or 1)
    if stride < 1:
        raise fail(path, line, f"host range {name!r} needs a stride of at least 1")
    if start.isdigit() and end.isdigit():
        if int(start) > int(end):
            raise fail(path, line, f"host range {name!r} runs backwards")
        return range(int(start), int(end) + 1, stride)
    if len(start) == 1 and len(end) == 1 and start.isalpha() and end.isalpha():
        letters = string.ascii_letters
        if letters.index(start) > letters.index(end):
            raise fail(path, line, f"host range {name!r} runs backwards")
        return letters[letters.index(start):letters.index(end) + 1:stride]
    raise fail(path, line, f"bad host range in {name!r} (use [01:20] or [a:f])")


def range_size(name: str, path: Path, line: int) -> int:
    """How many names a pattern stands for (the product of its ranges), without expanding it."""
    size = 1
    for match in RANGE.finditer(name):
        size *= len(_range_items(match, name, path, line))
    return size


def expand_range(name: str, path: Path, line: int) -> Iterator[str]:
    """Ansible host ranges, lazily: `web[01:03]` -> web01 web02 web03, `db-[a:c]` -> db-a db-b db-c."""
    if RANGE.search(name) is None:
        if "[" in name or "]" in name:
            raise fail(path, line, f"bad host range in {name!r} (use [01:20] or [a:f])")
        yield name
        return
    size = range_size(name, path, line)
    if size > MAX_HOSTS:
        raise fail(path, line, f"host range {name!r} names {size:,} hosts; an inventory may name at most "
                               f"{MAX_HOSTS:,}")
    yield from _expand(name, path, line)


def _expand(name: str, path: Path, line: int) -> Iterator[str]:
    match = RANGE.search(name)
    if match is None:
        if "[" in name or "]" in name:
            raise fail(path, line, f"bad host range in {name!r} (use [01:20] or [a:f])")
        yield name
        return
    items = _range_items(match, name, path, line)
    head, tail = name[:match.start()], name[match.end():]
    start = match.group(1)
    width = len(start) if isinstance(items, range) and start.startswith("0") else 0
    for item in items:
        yield from _expand(head + (str(item).zfill(width) if isinstance(items, range) else item) + tail, path, line)


def variables(value: Any, path: Path, line: int, what: str) -> dict[str, Any]:
    """A mapping of variables, or a one-line error naming where it is not one."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise fail(path, line_of(value, line), f"{what} must be a mapping of variables")
    return dict(value)
