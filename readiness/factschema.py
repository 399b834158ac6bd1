"""The JSON Schema of facts files, generated from the facts contract (checks/facts.yaml).

`checks/facts.yaml` names every namespace and key a collector may emit; this module turns it into a JSON
Schema, so a saved facts file is checked before it is judged: an unknown namespace or key, or a value of the
wrong type, is one line naming the JSON path (`$.targets[3].facts.vm.disk_count`), never a crash deep in
judging.  The contract has no type column, so types come from naming conventions the contract already
follows (checked against real collector output by the tests); a key no convention covers may hold any JSON:

* a description starting with "whether"             -> boolean or null
* `count`, `*_count`                                -> integer or null
* `*_bytes`                                         -> integer or null
* `*_gb`, `*_s`                                     -> number or null

`python -m readiness.factschema` rewrites `readiness/schemas/facts.schema.json`, the copy shipped for other
consumers; a test fails when it differs from what the contract generates.
"""

from __future__ import annotations

import json
import sys
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from readiness.util import load_yaml

SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "facts.schema.json"
#: Namespaces the judge adds at judge time (never collected, never in a facts file).
JUDGE_TIME = frozenset({"target", "plan", "params"})
_STRINGS = {"type": "array", "items": {"type": "string"}}


def key_schema(key: str, description: str) -> dict[str, Any]:
    """The type of one fact, from the contract's naming conventions (see the module docstring)."""
    if str(description).lower().startswith("whether"):
        return {"type": ["boolean", "null"]}
    if key == "count" or key.endswith(("_count", "_bytes")):
        return {"type": ["integer", "null"]}
    if key.endswith(("_gb", "_s")):
        return {"type": ["number", "null"]}
    return {}


def build_schema(contract: dict[str, Any]) -> dict[str, Any]:
    """The facts-file schema for one contract (namespace -> key -> description)."""
    namespaces = {}
    for namespace, keys in contract.items():
        if namespace in JUDGE_TIME:
            continue
        keys = keys or {}
        namespaces[namespace] = {
            "type": "object",
            "properties": {key: key_schema(key, text) for key, text in keys.items() if key != "*"},
            "additionalProperties": "*" in keys,
        }
    target = {
        "type": "object",
        "required": ["uri", "name", "scheme"],
        "additionalProperties": False,
        "properties": {
            "uri": {"type": "string"}, "name": {"type": "string"}, "scheme": {"type": "string"},
            "roles": _STRINGS, "notes": _STRINGS,
            "facts": {"type": "object", "properties": namespaces, "additionalProperties": False},
            "gaps": {"type": "object", "additionalProperties": {"type": "string"}},
            "error": {"type": ["string", "null"]},
            "duration_s": {"type": "number"},
            "collected_at": {"type": "string"},
        },
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://readiness.invalid/schemas/facts.schema.json",
        "title": "readiness facts file (generated from checks/facts.yaml by python -m readiness.factschema)",
        "type": "object",
        "required": ["schema_version", "kind", "targets"],
        "properties": {
            "schema_version": {"const": 1}, "kind": {"const": "readiness-facts"}, "tool": {"type": "object"},
            "targets": {"type": "array", "items": {"$ref": "#/$defs/target"}},
        },
        "$defs": {"target": target},
    }


@lru_cache(maxsize=1)
def facts_schema() -> dict[str, Any]:
    text = resources.files("readiness.checks").joinpath("facts.yaml").read_text(encoding="utf-8")
    return build_schema(load_yaml(text))


@lru_cache(maxsize=1)
def target_validator() -> jsonschema.protocols.Validator:
    """A validator of one target entry (a file is checked target by target, as it streams)."""
    schema = facts_schema()
    return jsonschema.Draft202012Validator(schema["$defs"]["target"])


def json_path(parts: Any) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    if isinstance(value, bool) or type(value) in names:
        return names[type(value)]
    return "a number"


def describe(error: jsonschema.ValidationError, prefix: tuple[Any, ...] = ()) -> str:
    """One line for the first problem: the JSON path, then what is wrong there."""
    path = json_path((*prefix, *error.absolute_path))
    if error.validator == "type":
        expected = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        return f"{path} is {_kind(error.instance)}, expected {' or '.join(expected)}"
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = set(error.schema.get("properties") or {})
        extra = sorted(k for k in error.instance if k not in known)
        where = "namespace" if path.endswith(".facts") else "key"
        return f"{path}: unknown {where} {extra[0]!r} (not in the facts contract, checks/facts.yaml)"
    if error.validator == "required":
        return f"{path}: {error.message}"
    message = error.message if len(error.message) <= 160 else error.message[:157] + "..."
    return f"{path}: {message}"


def target_problem(entry: Any, index: int) -> str | None:
    """Why target #index of a facts file is malformed, or None."""
    error = jsonschema.exceptions.best_match(target_validator().iter_errors(entry))
    return None if error is None else describe(error, ("targets", index))


def main() -> int:
    SCHEMA_PATH.write_text(json.dumps(facts_schema(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
