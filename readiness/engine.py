"""Judge facts with rules: findings with status, message, evidence, remediation.

Rules never do I/O; the engine only evaluates their expressions over the facts
document.  A rule that cannot be judged (a fact was not collected, an
expression yields null, a template fails) becomes status `error` with the
reason; the other rules still run.  As in InSpec's enhanced outcomes, pass,
fail, error, not-applicable and waived are kept apart.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

from readiness.expressions import evaluate
from readiness.facts import TargetFacts
from readiness.rulepack import Rule
from readiness.settings import Plan

STATUSES = ("pass", "fail", "error", "not-applicable", "waived")


@dataclass
class Finding:
    """One rule's verdict on one target, as the JSON report carries it."""

    rule_id: str
    requirements: list[str]
    title: str
    severity: str
    status: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    remediation: str = ""
    remediation_command: str | None = None
    rationale: str = ""
    source: str = ""
    waived: bool = False
    waiver: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Waiver:
    """An accepted finding: rule or requirement ID, target pattern, justification, expiry."""

    id: str
    justification: str
    targets: str = "*"
    expires: date | None = None

    def matches(self, finding: Finding, target: TargetFacts) -> bool:
        ids = {finding.rule_id, *finding.requirements}
        names = (target.name, target.uri)
        return self.id in ids and any(fnmatch.fnmatchcase(n, self.targets) for n in names)


def _unavailable(path: str, facts: dict[str, Any], gaps: dict[str, str]) -> str | None:
    """Why a fact path cannot be judged, or None when it was collected."""
    if path.startswith(("params.", "target.", "plan.")) or path in ("params", "target", "plan"):
        return None
    reason = _gap_reason(path, gaps)
    if reason:
        return reason
    parts = path.split(".")
    namespace = facts.get(parts[0])
    if namespace is None:
        return f"no {parts[0]} facts were collected for this target"
    if len(parts) > 1 and isinstance(namespace, dict) and parts[1] not in namespace:
        return f"fact {parts[0]}.{parts[1]} was not collected for this target"
    return None


def target_document(target: TargetFacts, management_server: str | None = None,
                    plan: dict[str, Any] | None = None) -> dict[str, Any]:
    """The document rules see: the facts plus the `target` and `plan` (judge-time inputs) namespaces."""
    return {**target.facts, "target": {"uri": target.uri, "name": target.name, "scheme": target.scheme,
                                       "roles": target.roles, "management_server": management_server},
            "plan": plan if plan is not None else Plan().as_facts()}


def applies(rule: Rule, roles: Iterable[str], scenarios: Iterable[str] | None) -> bool:
    """Whether a rule is in scope for these roles and selected scenarios."""
    if not set(rule.roles) & set(roles):
        return False
    return not scenarios or bool(set(rule.scenarios) & set(scenarios))


@lru_cache(maxsize=64)
def rules_in_scope(rules: tuple[Rule, ...], roles: tuple[str, ...], scenarios: tuple[str, ...]) -> tuple[Rule, ...]:
    """The rules for these roles and scenarios; memoised, as an estate has few distinct role sets."""
    return tuple(rule for rule in rules if applies(rule, roles, scenarios))


def _gap_reason(path: str, gaps: dict[str, str]) -> str | None:
    """Why a recorded gap (a fact that failed to be collected) covers this path, or None."""
    for gap, reason in gaps.items():
        if path == gap or path.startswith(gap + ".") or gap.startswith(path + "."):
            return f"{gap} was not collected: {reason}"
    return None


def judge_rule(rule: Rule, target: TargetFacts, document: dict[str, Any]) -> Finding:
    """One rule on one target's facts."""
    finding = Finding(rule_id=rule.id, requirements=rule.requirements, title=rule.title, severity=rule.severity,
                      status="error", message="", remediation=rule.remediation["text"],
                      remediation_command=rule.remediation.get("command"), rationale=rule.rationale,
                      source=rule.source)
    data = {**document, "params": rule.params}
    try:
        if "when" in rule.compiled:
            # Applies-when first: a rule that does not apply (a Linux rule on a Windows master target) needs
            # none of its other facts.  Only a fact the condition itself reads, and that failed, is an error.
            blocked = sorted({reason for path in rule.when_paths if (reason := _gap_reason(path, target.gaps))})
            if blocked:
                finding.message = "cannot judge: " + "; ".join(blocked)
                return finding
            applicable = evaluate(rule.compiled["when"], data)
            if applicable is None:
                applicable = False  # a fact this platform never has (ifcfg files on Windows): not this rule's target
            if not isinstance(applicable, bool):
                finding.message = f"cannot judge: the applies-when expression gave {applicable!r}, not true/false"
                return finding
            if not applicable:
                finding.status = "not-applicable"
                finding.message = rule.render("not_applicable", data, {}) or "does not apply"
                return finding
        missing = sorted({reason for path in rule.fact_paths
                          if (reason := _unavailable(path, target.facts, target.gaps))})
        if missing:
            finding.message = "cannot judge: " + "; ".join(missing)
            return finding
        finding.evidence = {name: evaluate(rule.compiled[f"evidence.{name}"], data) for name in rule.evidence_text}
        result = evaluate(rule.compiled["check"], data)
        if not isinstance(result, bool):
            finding.message = (f"cannot judge: the check gave {result!r}, not true/false "
                               "(a fact it needs is null or missing)")
            return finding
        finding.status = "pass" if result else "fail"
        finding.message = " ".join((rule.render(finding.status, data, finding.evidence) or "").split())
    except Exception as exc:  # a rule that raises is an error finding, never a crash
        finding.status = "error"
        finding.message = f"rule raised {type(exc).__name__}: {exc}"
    return finding


def judge_target(target: TargetFacts, rules: Iterable[Rule], scenarios: Iterable[str] | None = None,
                 waivers: Iterable[Waiver] = (), management_server: str | None = None,
                 today: date | None = None, plan: dict[str, Any] | None = None) -> list[Finding]:
    """Every applicable rule on one target, with waivers applied."""
    if target.error:
        return []
    document = target_document(target, management_server, plan)
    in_scope = rules_in_scope(tuple(rules), tuple(target.roles), tuple(scenarios or ()))
    findings = [judge_rule(rule, target, document) for rule in in_scope]
    today = today or date.today()
    for finding in findings:
        if finding.status != "fail":
            continue
        for waiver in waivers:
            if not waiver.matches(finding, target):
                continue
            record = {"id": waiver.id, "justification": waiver.justification,
                      "expires": waiver.expires.isoformat() if waiver.expires else None}
            if waiver.expires and waiver.expires < today:
                finding.message += f" (waiver for {waiver.id} expired on {waiver.expires.isoformat()})"
                finding.waiver = {**record, "expired": True}
                continue
            finding.status, finding.waived, finding.waiver = "waived", True, {**record, "expired": False}
            break
    order = {"fail": 0, "error": 1, "waived": 2, "pass": 3, "not-applicable": 4}
    severity = {"blocker": 0, "warning": 1, "info": 2}
    findings.sort(key=lambda f: (order[f.status], severity[f.severity], f.rule_id))
    return findings
