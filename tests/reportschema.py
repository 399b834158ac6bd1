"""Validate produced reports against the repository's JSON Schema."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import jsonschema

SCHEMA = json.loads(resources.files("readiness.schemas").joinpath("report.schema.json").read_text())


def validate_report(report: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.validate(report, SCHEMA, cls=jsonschema.Draft202012Validator)
