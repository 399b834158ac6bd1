"""A self-contained HTML report, rendered with jinja2 (autoescaped)."""

from __future__ import annotations

from importlib import resources
from typing import Any

from jinja2 import Environment, select_autoescape


def render(report: dict[str, Any], path: str | None, options: dict[str, Any]) -> str:
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    template = env.from_string(resources.files("readiness.reporters").joinpath("report.html.j2").read_text())
    return template.render(report=report)
