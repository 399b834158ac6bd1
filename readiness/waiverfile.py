"""Waiver files: accepted findings, each with a justification and an expiry.

A waiver names a rule ID or a catalog requirement ID (an ID nobody knows is
an input error: a typo must not silently waive nothing), a target glob, a
justification (required: a waiver is a decision someone owns) and an expiry
(required: a date, or `never` written out, so no waiver outlives its reason
by accident).  `readiness waivers --from REPORT.json` writes a file for the
current failures with empty justifications, for a person to fill in.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

from readiness.engine import Waiver
from readiness.errors import UsageError
from readiness.reporters.base import every_target
from readiness.util import load_yaml

log = logging.getLogger(__name__)
KEYS = {"id", "justification", "targets", "expires"}
DEFAULT_TERM = timedelta(days=90)


def _expiry(path: Path, index: int, value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if str(value).strip().lower() == "never":
        return None
    if value is None or str(value).strip() == "":
        raise UsageError(f"{path}: waiver #{index} needs an expiry: expires: YYYY-MM-DD, or expires: never")
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise UsageError(f"{path}: waiver #{index} expires {value!r} is not YYYY-MM-DD or never") from None


def load_waivers(path: Path | None, known_ids: Iterable[str]) -> list[Waiver]:
    """Waivers: id (a rule or requirement ID), justification, targets (glob, default *), expires (date or never)."""
    if path is None:
        return []
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UsageError(f"cannot read waivers file {path}: {exc}") from None
    if data is None:
        return []
    if not isinstance(data, list):
        raise UsageError(f"{path}: a waivers file is a YAML list of {{id, justification, targets, expires}}")
    known = set(known_ids)
    waivers = []
    for index, entry in enumerate(data, start=1):
        if not isinstance(entry, dict) or not entry.get("id"):
            raise UsageError(f"{path}: waiver #{index} needs an id (a rule or requirement ID)")
        if extra := set(entry) - KEYS:
            raise UsageError(f"{path}: waiver #{index} has unknown key(s) {', '.join(sorted(extra))} "
                             f"(known: {', '.join(sorted(KEYS))})")
        ident = str(entry["id"])
        if ident not in known:
            raise UsageError(f"{path}: waiver #{index} names unknown ID {ident!r} (a rule ID like RL001 or a "
                             "requirement ID like LNX-OS-001; 'readiness rules list' lists them)")
        justification = str(entry.get("justification") or "").strip()
        if not justification:
            raise UsageError(f"{path}: waiver #{index} ({ident}) needs a justification: who accepted it and why")
        waivers.append(Waiver(id=ident, justification=justification, targets=str(entry.get("targets") or "*"),
                              expires=_expiry(path, index, entry.get("expires"))))
    log.info("%d waiver(s) from %s", len(waivers), path)
    return waivers


def _scalar(text: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def waivers_template(report: dict[str, Any], source: str, today: date | None = None) -> str:
    """A waiver file for every failed finding of a report, justifications left empty to fill in."""
    expires = (today or date.today()) + DEFAULT_TERM
    lines = [f"# Waivers for the failures in {source} (readiness report of {report.get('started_at', '?')}).",
             "# Fill in each justification (who accepted the risk, and why); an empty one is refused when loaded.",
             "# expires: the date (YYYY-MM-DD) after which the finding fails again, or: never.",
             "# Delete the entries you do not accept."]
    count = 0
    for target in every_target(report):
        for finding in target["findings"]:
            if finding["status"] != "fail":
                continue
            count += 1
            lines += [f"- id: {finding['rule_id']}",
                      f"  # {finding['severity']} {' '.join(finding['requirements'])}: {finding['title']}",
                      f"  # {' '.join(finding['message'].split())}",
                      f"  targets: {_scalar(target['name'])}",
                      '  justification: ""',
                      f"  expires: {expires.isoformat()}"]
    if not count:
        lines.append("[]  # the report has no failures to waive")
    return "\n".join(lines) + "\n"
