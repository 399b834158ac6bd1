"""Support matrices: the dated lists and limits rules judge against, as data in rules/matrices/.

A support matrix (which releases, kernels, vCenter versions, disk sizes ASR supports) changes every few
months, while what a rule judges (the machine's release is listed, no disk exceeds the limit) does not.
So the limits live in one file per matrix, every entry with the document, section and date it comes
from, and a rule names the entries it needs (`matrix: {param: entry.key}`); the chosen matrix fills those
params when the rule is loaded.  A newer matrix is a new file, and no rule changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from readiness.errors import UsageError
from readiness.kernel import SPEC_KEYS
from readiness.rules import PACK_DIR
from readiness.util import load_yaml, read_text, yaml_line

MATRIX_DIR = PACK_DIR / "matrices"
DEFAULT_MATRIX = "seed"

_TEXT = {"type": "string", "minLength": 1}
_KERNELS = {"type": "array", "items": {"oneOf": [_TEXT, {"type": "object", "minProperties": 1,
                                                        "propertyNames": {"enum": sorted(SPEC_KEYS | {"to"})}}]}}
_LINUX_RELEASES = {"type": "array", "items": {
    "type": "object", "additionalProperties": False, "required": ["distribution", "versions"],
    "properties": {"distribution": _TEXT, "name": _TEXT, "versions": {"type": "array", "minItems": 1, "items": _TEXT},
                   "kernels": _KERNELS, "note": _TEXT}}}
_WINDOWS_RELEASES = {"type": "array", "items": {
    "type": "object", "additionalProperties": False, "required": ["name", "version"],
    "properties": {"name": _TEXT, "version": _TEXT, "product": {"enum": ["server", "workstation"]},
                   "builds": {"type": "array", "items": {"type": "integer"}},
                   "min_service_pack": {"type": "integer"}, "note": _TEXT}}}
_COUNT = {"type": "integer", "minimum": 1}
_WORDS = {"type": "array", "items": _TEXT}
#: The shape of an entry's value, by key suffix: a limit mistyped in a new matrix ("1 TB" for a byte count) is
#: refused when the matrix loads, not discovered as an `error` finding on every machine.
VALUE_SCHEMAS: dict[str, dict[str, Any]] = {
    "linux_releases": _LINUX_RELEASES, "windows_releases": _WINDOWS_RELEASES, "_bytes": _COUNT, "_gb": _COUNT,
    "_max": _COUNT,
    "_by_release": {"type": "object", "additionalProperties": False, "required": ["releases", "allowed"],
                    "properties": {"releases": _WORDS, "allowed": _WORDS}},
    "versions": _WORDS, "firmware": _WORDS, "guest_ids": _WORDS, "filesystems": _WORDS,
    "min_version": {"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)*$"},
}

MATRIX_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False,
    "required": ["matrix", "title", "date", "source", "entries"],
    "properties": {
        "matrix": {"type": "string", "pattern": "^[a-z0-9][a-z0-9.-]*$"},
        "title": _TEXT,
        "date": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}(-[0-9]{2})?$"},
        "source": {"type": "object", "additionalProperties": False, "required": ["document"],
                   "properties": {"document": _TEXT, "repository": _TEXT, "commit": _TEXT, "date": _TEXT,
                                  "note": _TEXT}},
        "entries": {"type": "object", "minProperties": 1, "propertyNames": {"pattern": "^[a-z_]+(\\.[a-z_]+)+$"},
                    "additionalProperties": {
                        "type": "object", "additionalProperties": False, "required": ["value", "source"],
                        "properties": {"value": {}, "source": _TEXT, "note": _TEXT}}},
        "not_judged": {"type": "array", "items": {
            "type": "object", "additionalProperties": False, "required": ["topic", "text", "source"],
            "properties": {"topic": _TEXT, "text": _TEXT, "source": _TEXT}}},
    },
}
MATRIX_VALIDATOR = jsonschema.Draft202012Validator(MATRIX_SCHEMA)


@dataclass(frozen=True)
class Entry:
    """One limit or list of a matrix, with where it was read."""

    key: str
    value: Any
    source: str
    note: str | None = None


@dataclass(frozen=True)
class Matrix:
    """One dated support matrix."""

    name: str
    title: str
    date: str
    source: dict[str, str]
    entries: dict[str, Entry]
    not_judged: list[dict[str, str]] = field(default_factory=list)
    path: str = ""

    def info(self) -> dict[str, Any]:
        """What a report says about the matrix it judged with: {name, date, source}."""
        return {"name": self.name, "date": self.date, "source": self.source_text()}

    def source_text(self) -> str:
        parts = [self.source.get("repository"), self.source["document"]]
        at = self.source.get("commit")
        return " ".join(p for p in parts if p) + (f" @ {at}" if at else "") + (
            f" ({self.source['date']})" if self.source.get("date") else "")

    def note(self) -> str:
        """The line every report format shows today (in `notes`)."""
        return f"support matrix: {self.name} ({self.date}): {self.title}; source {self.source_text()}"


def matrix_files() -> dict[str, Path]:
    """name -> file of every matrix shipped in rules/matrices/."""
    return {path.stem: path for path in sorted(MATRIX_DIR.glob("*.yaml"))}


def load_matrix_file(path: Path) -> Matrix:
    """Load and validate one matrix file; errors name the file, line and entry."""
    text = read_text(path, "matrix file")
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    for validator, value, prefix in _validations(data):
        error = jsonschema.exceptions.best_match(validator.iter_errors(value))
        if error is not None:
            where = prefix + list(error.absolute_path)
            location = "/".join(str(p) for p in where) or "top level"
            raise UsageError(f"{path}:{yaml_line(text, where)}: invalid at {location}: {error.message[:160]}")
    if data["matrix"] != path.stem:
        raise UsageError(f"{path}: matrix name {data['matrix']!r} differs from the file name {path.stem!r}")
    entries = {key: Entry(key, raw["value"], " ".join(raw["source"].split()), raw.get("note"))
               for key, raw in data["entries"].items()}
    return Matrix(name=data["matrix"], title=" ".join(data["title"].split()), date=str(data["date"]),
                  source=dict(data["source"]), entries=entries, not_judged=list(data.get("not_judged") or []),
                  path=str(path))


def _validations(data: Any) -> list[tuple[jsonschema.Draft202012Validator, Any, list[Any]]]:
    """The file's schema first, then each entry value whose key names a known shape."""
    checks: list[tuple[jsonschema.Draft202012Validator, Any, list[Any]]] = [(MATRIX_VALIDATOR, data, [])]
    if MATRIX_VALIDATOR.is_valid(data):
        for key, raw in data["entries"].items():
            schema = next((s for suffix, s in VALUE_SCHEMAS.items() if key.endswith(suffix)), None)
            if schema is not None:
                checks.append((jsonschema.Draft202012Validator(schema), raw["value"], ["entries", key, "value"]))
    return checks


@lru_cache(maxsize=8)
def load_matrix(name: str = DEFAULT_MATRIX) -> Matrix:
    """A shipped matrix by name, or a matrix file by path (`--matrix path/to/2024-05.yaml`)."""
    files = matrix_files()
    if name in files:
        return load_matrix_file(files[name])
    path = Path(name)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return load_matrix_file(path)
    raise UsageError(f"unknown support matrix {name!r} (known: {', '.join(files)}; or give a matrix file path)")


def resolve_params(refs: dict[str, str], matrix: Matrix, where: str) -> dict[str, Any]:
    """The params a rule's `matrix:` field names, read from the chosen matrix.

    A rule needing an entry the matrix lacks is refused when loaded (the error names the rule, the entry
    and the matrix file), never judged against a silent default.
    """
    params = {}
    for param, key in refs.items():
        entry = matrix.entries.get(key)
        if entry is None:
            raise UsageError(f"{where}: param {param} needs matrix entry {key!r}, which matrix {matrix.name} "
                             f"({matrix.path}) does not have")
        params[param] = entry.value
    return params
