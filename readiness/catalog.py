"""The requirements catalog: stable IDs, roles, scenarios, severities, sources.

The catalog ships inside the wheel (rules/requirements.yaml).  Rules cite its
IDs and inherit severity, roles, scenarios and source from it unless they say
otherwise, so one correction to the catalog reaches every rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from readiness.errors import UsageError
from readiness.rules import CATALOG_PATH
from readiness.util import load_yaml

SEVERITIES = ("blocker", "warning", "info")


@dataclass(frozen=True)
class Requirement:
    """One catalog entry."""

    id: str
    title: str
    roles: tuple[str, ...]
    scenarios: tuple[str, ...]
    severity: str
    source: str
    limit: Any = None


@dataclass(frozen=True)
class Catalog:
    """All requirements, plus the role and scenario vocabularies."""

    requirements: dict[str, Requirement]
    roles: dict[str, str]
    scenarios: dict[str, str]

    def get(self, req_id: str) -> Requirement:
        return self.requirements[req_id]


def load_catalog(path: Path = CATALOG_PATH) -> Catalog:
    """Read and check a catalog file."""
    try:
        data = load_yaml(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(f"cannot read requirements catalog {path}: {exc}") from None
    requirements: dict[str, Requirement] = {}
    for entry in data.get("requirements", []):
        req = Requirement(
            id=entry["id"], title=entry["title"], roles=tuple(entry["roles"]),
            scenarios=tuple(entry["scenarios"]), severity=entry["severity"], source=entry["source"],
            limit=entry.get("limit"))
        if req.id in requirements:
            raise UsageError(f"{path}: requirement {req.id} is listed twice")
        if req.severity not in SEVERITIES:
            raise UsageError(f"{path}: requirement {req.id} has unknown severity {req.severity!r}")
        requirements[req.id] = req
    return Catalog(requirements=requirements, roles=dict(data["roles"]), scenarios=dict(data["scenarios"]))


@lru_cache(maxsize=1)
def default_catalog() -> Catalog:
    """The catalog shipped with the tool."""
    return load_catalog()
