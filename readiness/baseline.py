"""Compare a report with an earlier one: `--baseline OLD.json` and `readiness diff OLD.json NEW.json`.

A finding is identified by its target URI and rule ID.  A problem is a
finding that failed or could not be judged.  Against the baseline, a problem
now is `new` (not a problem before) or `unchanged`; a finding that was a
problem before and is not now is `fixed`.  Problems of the old report whose
target or rule is no longer judged at all are listed as `gone`, not fixed:
nobody looked.  Only the old report's problems are kept in memory.
"""

from __future__ import annotations

import json
import logging
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from readiness.errors import UsageError
from readiness.reporters.base import every_target, score_text
from readiness.util import read_json

log = logging.getLogger(__name__)
PROBLEM = ("fail", "error")


def load_report(path: Path) -> dict[str, Any]:
    """A readiness JSON report, or a UsageError that says why not."""
    report = read_json(path, "JSON report")
    if not isinstance(report, dict) or "summary" not in report or not isinstance(report.get("targets"), list):
        raise UsageError(f"{path} is not a readiness JSON report (write one with --reporter json:PATH)")
    if report.get("schema_version") != 1:
        raise UsageError(f"{path}: report schema_version {report.get('schema_version')!r} is not supported")
    error = jsonschema.exceptions.best_match(_validator().iter_errors(report))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "top level"
        raise UsageError(f"{path} is not a valid readiness JSON report: at {where}: {error.message[:200]}")
    return report


@cache
def _validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(resources.files("readiness.schemas").joinpath("report.schema.json").read_text())
    return jsonschema.Draft202012Validator(schema)


def problems(report: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """(target URI, rule ID) -> the facts about each problem worth printing."""
    return {(t["target"], f["rule_id"]): {"name": t["name"], "rule_id": f["rule_id"], "status": f["status"],
                                          "severity": f["severity"], "requirements": f["requirements"],
                                          "title": f["title"], "message": f["message"]}
            for t in every_target(report) for f in t["findings"] if f["status"] in PROBLEM}


class Baseline:
    """Marks streamed target entries against an old report's problems."""

    def __init__(self, path: Path) -> None:
        self.path = path
        old = load_report(path)
        self.started_at = old.get("started_at")
        self.old = problems(old)
        log.info("baseline %s (%s): %d problem(s)", path, self.started_at, len(self.old))
        self.seen: set[tuple[str, str]] = set()
        self.counts = {"new": 0, "unchanged": 0, "fixed": 0}

    def mark(self, entry: dict[str, Any]) -> None:
        """Set `baseline` on each finding of one target that is a problem now or was one before."""
        for finding in entry["findings"]:
            key = (entry["target"], finding["rule_id"])
            if finding["status"] in PROBLEM:
                state = "unchanged" if key in self.old else "new"
            elif key in self.old:
                state = "fixed"
            else:
                continue
            finding["baseline"] = state
            self.counts[state] += 1
            self.seen.add(key)

    def summary(self) -> dict[str, Any]:
        gone = [{"target": key[0], "rule_id": key[1]} for key in self.old if key not in self.seen]
        return {"report": str(self.path), "started_at": self.started_at, **self.counts, "gone": gone}


def _line(item: dict[str, Any]) -> str:
    return f"  {item['name']}  {item['rule_id']} {' '.join(item['requirements'])} ({item['severity']}): {item['title']}"


def diff(old: dict[str, Any], new: dict[str, Any]) -> tuple[str, int]:
    """What changed from `old` to `new`, as text, and how many new problems there are."""
    before, after = problems(old), problems(new)
    old_targets = {t["target"]: t for t in every_target(old)}
    new_targets = {t["target"]: t for t in every_target(new)}
    judged_now = {(t["target"], f["rule_id"]) for t in every_target(new) for f in t["findings"]}
    lines = [f"readiness diff: {old.get('started_at', '?')} -> {new.get('started_at', '?')}"]
    for label, names in (("added", sorted(set(new_targets) - set(old_targets))),
                         ("removed", sorted(set(old_targets) - set(new_targets)))):
        lines += [f"{label} target: {new_targets.get(uri, old_targets.get(uri))['name']} ({uri})" for uri in names]
    for uri in sorted(set(old_targets) & set(new_targets)):
        was, now = old_targets[uri], new_targets[uri]
        if (was["status"], was["score"]) != (now["status"], now["score"]):
            lines.append(f"{now['name']}: {was['status']} -> {now['status']} "
                         f"(score {score_text(was['score'])} -> {score_text(now['score'])})")
    new_problems = [after[k] for k in after if k not in before]
    fixed = [before[k] for k in before if k not in after and k in judged_now]
    gone = [before[k] for k in before if k not in after and k not in judged_now]
    for title, items in (("new problems", new_problems), ("fixed", fixed),
                         ("no longer judged", gone)):
        if items:
            lines.append(f"{title} ({len(items)}):")
            lines += [_line(item) + (f" [{item['status']}]" if item["status"] != "fail" else "") for item in items]
    unchanged = sum(1 for k in after if k in before)
    lines.append(f"{len(new_problems)} new, {len(fixed)} fixed, {unchanged} unchanged problem(s); estate score "
                 f"{score_text(old['summary']['score'])} -> {score_text(new['summary']['score'])}")
    return "\n".join(lines), len(new_problems)
