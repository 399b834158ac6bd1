"""Judge facts with rules: findings with status, message, evidence, remediation.

Rules never do I/O; the engine only evaluates their expressions over the facts
document.  A rule that cannot be judged (a fact was not collected, an
expression yields null or meets a null where it needs a value, a template
fails) becomes status `error` with the reason; the other rules still run.  As
in InSpec's enhanced outcomes, pass, fail, error, not-applicable and waived
are kept apart.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

from jmespath.exceptions import JMESPathTypeError

from readiness.expressions import root_paths
from readiness.facts import TargetFacts
from readiness.jmesfast import evaluate
from readiness.rulepack import Rule
from readiness.settings import Plan

STATUSES = ("pass", "fail", "error", "not-applicable", "waived")
#: The role of the `estate://` target; only rules written for the `estate` namespace run there, and only there.
ESTATE_ROLE = "estate"


@dataclass(slots=True)
class Finding:
    """One rule's verdict on one target, as the JSON report carries it."""

    rule_id: str
    requirements: list[str]
    title: str
    severity: str
    status: str
    message: str
    scenarios: list[str] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)
    remediation: str = ""
    remediation_command: str | None = None
    rationale: str = ""
    source: str = ""
    waived: bool = False
    waiver: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The finding as a plain dict, built field by field: dataclasses.asdict deep-copies every evidence
        value recursively, which cost 1.9 s on a 10,000-VM estate (issue 11)."""
        return {"rule_id": self.rule_id, "requirements": self.requirements, "title": self.title,
                "severity": self.severity, "status": self.status, "message": self.message,
                "scenarios": self.scenarios, "evidence": self.evidence, "remediation": self.remediation,
                "remediation_command": self.remediation_command, "rationale": self.rationale,
                "source": self.source, "waived": self.waived, "waiver": self.waiver}


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
    parts = path.split(".")
    return _unread(path, parts[0], parts[1] if len(parts) > 1 else None, facts, gaps)


def _unread(path: str, namespace_name: str, key: str | None, facts: dict[str, Any], gaps: dict[str, str]
            ) -> str | None:
    """`_unavailable` for a path already split (see `_collected_paths`)."""
    reason = _gap_reason(path, gaps) if gaps else None
    if reason:
        return reason
    namespace = facts.get(namespace_name)
    if namespace is None:
        return f"no {namespace_name} facts were collected for this target"
    if key is not None and isinstance(namespace, dict) and key not in namespace:
        return f"fact {namespace_name}.{key} was not collected for this target"
    return None


@lru_cache(maxsize=4096)
def _collected_paths(rule: Rule) -> tuple[tuple[str, str, str | None], ...]:
    """The rule's fact paths that collectors fill (not params, target, plan), split once per rule instead of
    once per target: (path, namespace, key or None)."""
    split = []
    for path in sorted(rule.fact_paths):
        if path.startswith(("params.", "target.", "plan.")) or path in ("params", "target", "plan"):
            continue
        parts = path.split(".")
        split.append((path, parts[0], parts[1] if len(parts) > 1 else None))
    return tuple(split)


def target_document(target: TargetFacts, management_server: str | None = None,
                    plan: dict[str, Any] | None = None, scenarios: Iterable[str] = ()) -> dict[str, Any]:
    """The document rules see: the facts plus the `target` and `plan` (judge-time inputs) namespaces."""
    return {**target.facts, "target": {"uri": target.uri, "name": target.name, "scheme": target.scheme,
                                       "roles": target.roles, "management_server": management_server,
                                       "selected_scenarios": list(scenarios)},
            "plan": plan if plan is not None else Plan().as_facts()}


@lru_cache(maxsize=4096)  # asked for every rule on every target (scan.needed_namespaces, applies)
def is_estate_rule(rule: Rule) -> bool:
    """Whether the rule is written for the estate (it reads the `estate` namespace).

    Catalog entries such as LNX-PUSH-005 list `estate` among their roles, so a per-machine rule inherits it;
    running that rule on `estate://` would judge the set on facts it does not have.  The namespace a rule
    reads, not the role it inherits, says which kind of target it is for.
    """
    return any(path == ESTATE_ROLE or path.startswith(ESTATE_ROLE + ".") for path in rule.fact_paths)


def applies(rule: Rule, roles: Iterable[str], scenarios: Iterable[str] | None) -> bool:
    """Whether a rule is in scope for these roles and selected scenarios.

    An estate rule runs where the estate role is; any other rule needs one of its machine roles, so a
    per-machine rule that inherits the estate role from its catalog entry never runs on `estate://`.
    """
    shared = set(rule.roles) & set(roles)
    if not (ESTATE_ROLE in shared if is_estate_rule(rule) else shared - {ESTATE_ROLE}):
        return False
    return not scenarios or bool(set(rule.scenarios) & set(scenarios))


@lru_cache(maxsize=64)
def rules_in_scope(rules: tuple[Rule, ...], roles: tuple[str, ...], scenarios: tuple[str, ...]) -> tuple[Rule, ...]:
    """The rules for these roles and scenarios; memoised, as an estate has few distinct role sets."""
    return tuple(rule for rule in rules if applies(rule, roles, scenarios))


def target_scenarios(rules: Iterable[Rule], roles: Iterable[str], selected: Iterable[str] | None) -> list[str]:
    """The scenarios judged for a target: the selected ones, or else every scenario its roles can take part in
    (the scenarios of the rules in scope for its roles)."""
    if selected:
        return list(dict.fromkeys(selected))
    in_scope = rules_in_scope(tuple(rules), tuple(roles), ())
    return sorted({scenario for rule in in_scope for scenario in rule.scenarios})


def _gap_reason(path: str, gaps: dict[str, str]) -> str | None:
    """Why a recorded gap (a fact that failed to be collected) covers this path, or None."""
    for gap, reason in gaps.items():
        if path == gap or path.startswith(gap + ".") or gap.startswith(path + "."):
            return f"{gap} was not collected: {reason}"
    return None


def _null_facts(paths: Iterable[str], data: dict[str, Any]) -> list[str]:
    """The fact paths that hold null, each with the reason its collector recorded beside it (the `error` key
    of the object that holds it), so 'abs() of null' reads as 'connectivity.clock.skew_s is null: no endpoint
    answered with an HTTP Date header'."""
    found = []
    for path in sorted(paths):
        if path.split(".")[0] in ("params", "target", "plan"):
            continue
        parent: Any = None
        value: Any = data
        for part in path.split("."):
            parent, value = value, value.get(part) if isinstance(value, dict) else None
            if value is None:
                break
        if value is None:
            why = parent.get("error") if isinstance(parent, dict) else None
            found.append(f"{path} is null" + (f": {why}" if isinstance(why, str) and why else ""))
    return found


def _cannot_judge(rule: Rule, expression: str, data: dict[str, Any], what: str) -> str:
    """The message of a rule whose expression met a null: name the null facts it reads, when there are any."""
    nulls = _null_facts(root_paths(rule.compiled[expression]), data)
    return "cannot judge: " + ("; ".join(nulls) if nulls else what)


def _role_failure(rule: Rule, target: TargetFacts, data: dict[str, Any]) -> str:
    """Why a machine fails a rule that defines its role (when_false: fail): it is not what the role needs."""
    reason = rule.render("not_applicable", data, {}) or f"the condition {rule.when_text} is false"
    roles = [role for role in target.roles if role in rule.roles] or list(target.roles)
    return (f"{' '.join(reason.split())}: as a {' and '.join(roles)} it must meet "
            f"{', '.join(rule.requirements)} ({rule.title[:1].lower() + rule.title[1:]})")


def judge_rule(rule: Rule, target: TargetFacts, document: dict[str, Any]) -> Finding:
    """One rule on one target's facts."""
    finding = Finding(rule_id=rule.id, requirements=rule.requirements, title=rule.title, severity=rule.severity,
                      status="error", message="", scenarios=rule.scenarios, remediation=rule.remediation["text"],
                      remediation_command=rule.remediation.get("command"), rationale=rule.rationale,
                      source=rule.source)
    data = {**document, "params": rule.params}
    stage = "when"
    try:
        if "when" in rule.compiled:
            # Applies-when first: a rule that does not apply (a Linux rule on a Windows master target) needs
            # none of its other facts.  Only a fact the condition itself reads, and that failed, is an error;
            # for a rule that defines the role, a condition none of whose facts were collected (a vCenter view
            # with no guest facts) is an error too: we do not know what the machine is, so it cannot fail.
            blocked = sorted({reason for path in rule.when_paths if (reason := _gap_reason(path, target.gaps))})
            if not blocked and rule.when_false == "fail":
                unread = [reason for path in rule.when_paths
                          if (reason := _unavailable(path, target.facts, target.gaps))]
                blocked = sorted(set(unread)) if len(unread) == len(rule.when_paths) else []
            if blocked:
                finding.message = "cannot judge: " + "; ".join(blocked)
                return finding
            applicable = evaluate(rule.compiled["when"], data)
            if applicable is None:
                applicable = False  # a fact this platform never has (ifcfg files on Windows): not this rule's target
            if not isinstance(applicable, bool):
                finding.message = f"cannot judge: the applies-when expression gave {applicable!r}, not true/false"
                return finding
            if not applicable and rule.when_false == "fail":
                finding.status, finding.message = "fail", _role_failure(rule, target, data)
                finding.evidence = {"required": rule.when_text, "roles": list(target.roles)}
                return finding
            if not applicable:
                finding.status = "not-applicable"
                finding.message = rule.render("not_applicable", data, {}) or "does not apply"
                return finding
        facts, gaps = target.facts, target.gaps
        missing = sorted({reason for path, namespace, key in _collected_paths(rule)
                          if (reason := _unread(path, namespace, key, facts, gaps))})
        if missing:
            finding.message = "cannot judge: " + "; ".join(missing)
            return finding
        for name in rule.evidence_text:
            stage = f"evidence.{name}"
            finding.evidence[name] = evaluate(rule.compiled[stage], data)
        stage = "check"
        result = evaluate(rule.compiled["check"], data)
        if not isinstance(result, bool):
            # a rule may say itself why it cannot judge (message.error: partial data, a confidence rating)
            own = " ".join((rule.render("error", data, finding.evidence) or "").split())
            finding.message = f"cannot judge: {own}" if own else _cannot_judge(
                rule, stage, data, f"the check gave {result!r}, not true/false (a fact it needs is null or missing)")
            return finding
        finding.status = "pass" if result else "fail"
        finding.message = " ".join((rule.render(finding.status, data, finding.evidence) or "").split())
    except JMESPathTypeError as exc:  # a function met a null where it needs a value: a fact is missing
        finding.status, finding.evidence = "error", {}
        finding.message = _cannot_judge(rule, stage, data, f"{exc}")
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
    selected = tuple(scenarios or ())
    document = target_document(target, management_server, plan, selected)
    in_scope = rules_in_scope(tuple(rules), tuple(target.roles), selected)
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
