"""Inventories: which machines an estate scan judges, read from the files people already have.

Formats are recognised by content (never by a flag the user can forget):

* the documented readiness YAML inventory (`version: 1`, `defaults`, `groups`, `hosts`): `own.py`;
* Ansible inventories as they are, YAML or INI (`ansible_host`, `ansible_port`, `ansible_user`,
  `ansible_ssh_private_key_file`, `ansible_become`, `ansible_connection=winrm`, groups, `:vars`, `:children`,
  host ranges such as `web[01:20]`), and Ansible inventory directories (`hosts*`, `group_vars/`,
  `host_vars/`): `ansible.py`;
* a plain file of host names or target URIs, one per line (read by the INI reader).

YAML goes through PyYAML with line numbers kept on every value.  A malformed inventory is a `UsageError`
(exit 2, one line naming file and line).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import yaml

from readiness.errors import UsageError
from readiness.inventory.ansible import read_ansible_yaml, read_directory, read_ini
from readiness.inventory.hosts import limit, to_targets
from readiness.inventory.model import MAX_HOSTS, Inventory, LineLoader, expand_range
from readiness.inventory.own import read_own
from readiness.targets import Target

__all__ = ["MAX_HOSTS", "Inventory", "expand_range", "inventory_targets", "limit", "load_inventory", "to_targets"]


def load_inventory(path: Path) -> Inventory:
    """Read any supported inventory file or Ansible inventory directory; UsageError with file and line."""
    if path.is_dir():
        return read_directory(path, _load_file)
    return _load_file(path)


def _load_file(path: Path) -> Inventory:
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
            data = yaml.load(text, Loader=LineLoader)
        except yaml.YAMLError as exc:
            if is_yaml_name:
                mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
                where = f":{mark.line + 1}" if mark else ""
                problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
                raise UsageError(f"{path}{where}: invalid YAML inventory: {problem}") from None
            data = None
        if isinstance(data, dict):
            if "version" in data:
                return read_own(path, data)
            return read_ansible_yaml(path, data)
        if is_yaml_name and data is not None:
            raise UsageError(f"{path}:1: a YAML inventory must be a mapping (groups, or version/hosts/groups)")
    return read_ini(path, text)


def inventory_targets(path: Path, pattern: str | None = None, known_roles: Iterable[str] = (),
                      known_scenarios: Iterable[str] = ()) -> list[Target]:
    """The CLI's entry point: read, turn into targets, apply --limit."""
    inv = load_inventory(path)
    inv.ancestry()  # group structure errors (cycles, unknown children) even when no host is listed
    if not inv.hosts:
        raise UsageError(f"inventory {path} names no host")
    names = limit(inv, pattern) if pattern else None
    return to_targets(inv, names, known_roles, known_scenarios)
