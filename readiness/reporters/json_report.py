"""The JSON report CI gates consume (schema in readiness/schemas/report.schema.json)."""

from __future__ import annotations

import json
from typing import Any


def render(report: dict[str, Any], path: str | None, options: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, sort_keys=False, default=str)
