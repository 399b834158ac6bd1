"""Rule packs: YAML data in rules/, validated strictly when loaded.

As in Prowler's check metadata, everything about a rule (severity, rationale,
remediation, source) is data beside its judgement, and a malformed pack is
refused at load time with the file and the rule named, never at scan time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from readiness.catalog import SEVERITIES, Catalog, default_catalog
from readiness.errors import UsageError
from readiness.expressions import compile_expression, relative_roots, root_paths
from readiness.matrix import DEFAULT_MATRIX, Matrix, load_matrix, resolve_params
from readiness.rules import PACK_DIR
from readiness.util import load_yaml, read_text, yaml_line

TEMPLATES = SandboxedEnvironment(autoescape=False, trim_blocks=True, lstrip_blocks=True)
TEMPLATES.filters["gb"] = lambda value: "?" if value is None else f"{value / 1024**3:.1f} GB"

_STR_LIST = {"type": "array", "items": {"type": "string"}}
PACK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["pack", "rules"],
    "properties": {
        "pack": {"type": "string"},
        "description": {"type": "string"},
        "rules": {"type": "array", "items": {
            "type": "object",
            "additionalProperties": False,
            "required": ["id", "requirements", "title", "rationale", "check", "message", "remediation"],
            "properties": {
                "id": {"type": "string", "pattern": "^R[A-Z]{1,2}[0-9]{3}$"},
                "requirements": {**_STR_LIST, "minItems": 1},
                "title": {"type": "string"},
                "rationale": {"type": "string"},
                "severity": {"enum": list(SEVERITIES)},
                "roles": _STR_LIST,
                "scenarios": _STR_LIST,
                "when": {"type": "string"},
                "when_false": {"enum": ["not-applicable", "fail"]},
                "check": {"type": "string"},
                "evidence": {"type": "object", "additionalProperties": {"type": "string"}},
                "params": {"type": "object"},
                # param name -> support-matrix entry key (rules/matrices/*.yaml), filled in when loaded
                "matrix": {"type": "object", "additionalProperties": {"type": "string"}},
                "message": {"type": "object", "additionalProperties": False, "required": ["pass", "fail"],
                            "properties": {"pass": {"type": "string"}, "fail": {"type": "string"},
                                           "not_applicable": {"type": "string"}, "error": {"type": "string"}}},
                "remediation": {"type": "object", "additionalProperties": False, "required": ["text"],
                                "properties": {"text": {"type": "string"}, "command": {"type": "string"},
                                               "url": {"type": "string"}}},
                "source": {"type": "string"},
            },
        }},
    },
}


PACK_VALIDATOR = jsonschema.Draft202012Validator(PACK_SCHEMA)


@dataclass(eq=False)  # identity semantics: rules are hashable, so in-scope sets can be memoised
class Rule:
    """One loaded, validated rule."""

    id: str
    pack: str
    requirements: list[str]
    title: str
    rationale: str
    severity: str
    roles: list[str]
    scenarios: list[str]
    check_text: str
    when_text: str | None
    evidence_text: dict[str, str]
    params: dict[str, Any]
    message: dict[str, str]
    remediation: dict[str, str]
    source: str
    path: str
    compiled: dict[str, Any] = field(default_factory=dict, repr=False)
    templates: dict[str, Any] = field(default_factory=dict, repr=False)
    fact_paths: set[str] = field(default_factory=set)
    when_paths: set[str] = field(default_factory=set)  # what the applies-when expression reads
    #: What a false applies-when means: "not-applicable" (the usual), or "fail" for a rule that defines what a
    #: role's machine must be (MS-OS-001: a Linux machine judged as management server is not one, it fails).
    when_false: str = "not-applicable"
    #: param -> matrix entry key: the params the chosen support matrix filled in (readiness.matrix)
    matrix_refs: dict[str, str] = field(default_factory=dict)

    def template(self, name: str) -> Any:
        """The compiled message template, or None when the rule has no such message."""
        if name not in self.templates:
            text = self.message.get(name)
            self.templates[name] = TEMPLATES.from_string(text.strip()) if text is not None else None
        return self.templates[name]

    def render(self, name: str, data: dict[str, Any], evidence: dict[str, Any]) -> str | None:
        """Render a message; None when the rule has no such message.

        The facts document is handed to Jinja as the shared context instead of being copied into a new
        one per render: on a 10,000-VM estate that halves the cost of the messages.
        """
        template = self.template(name)
        if template is None:
            return None
        context = template.new_context({**TEMPLATES.globals, **data, "ev": evidence}, shared=True)
        return "".join(template.root_render_func(context))

    def as_dict(self) -> dict[str, Any]:
        """The rule as `rules show` prints it."""
        return {
            "id": self.id, "pack": self.pack, "requirements": self.requirements, "title": self.title,
            "severity": self.severity, "roles": self.roles, "scenarios": self.scenarios,
            "rationale": self.rationale, "when": self.when_text, "when_false": self.when_false,
            "check": self.check_text,
            "evidence": self.evidence_text, "params": self.params, "remediation": self.remediation,
            "source": self.source, "file": self.path, "matrix": self.matrix_refs,
        }


@lru_cache(maxsize=1)
def known_facts() -> dict[str, set[str]]:
    """namespace -> keys from checks/facts.yaml ("*" admits any key)."""
    data = load_yaml(resources.files("readiness.checks").joinpath("facts.yaml").read_text())
    return {ns: set(keys or {}) for ns, keys in data.items()}


def check_fact_path(path: str) -> str | None:
    """Why a fact path is unknown, or None when it is in the contract."""
    namespace, _, rest = path.partition(".")
    facts = known_facts()
    if namespace not in facts:
        return f"unknown fact namespace {namespace!r}"
    key = rest.split(".")[0]
    if key and "*" not in facts[namespace] and key not in facts[namespace]:
        return f"unknown fact {namespace}.{key}"
    return None


def _matrix_params(raw: dict[str, Any], matrix: Matrix, where: str) -> dict[str, Any]:
    """The rule's own params plus those its `matrix:` field reads from the chosen support matrix."""
    params = dict(raw.get("params") or {})
    refs = raw.get("matrix") or {}
    if clash := sorted(set(refs) & set(params)):
        raise UsageError(f"{where}: params {', '.join(clash)} are given both in params and matrix")
    named = {"matrix_name": f"{matrix.name} ({matrix.date})"} if refs else {}  # for messages to cite
    return {**params, **resolve_params(refs, matrix, where), **named}


def _build_rule(raw: dict[str, Any], pack: str, path: str, catalog: Catalog, matrix: Matrix) -> Rule:
    where = f"{path}: rule {raw['id']}"
    for req_id in raw["requirements"]:
        if req_id not in catalog.requirements:
            raise UsageError(f"{where}: unknown requirement ID {req_id!r} (not in the catalog)")
    reqs = [catalog.get(r) for r in raw["requirements"]]
    roles = raw.get("roles") or sorted({role for r in reqs for role in r.roles})
    scenarios = raw.get("scenarios") or sorted({s for r in reqs for s in r.scenarios})
    for role in roles:
        if role not in catalog.roles:
            raise UsageError(f"{where}: unknown role {role!r}")
    for scenario in scenarios:
        if scenario not in catalog.scenarios:
            raise UsageError(f"{where}: unknown scenario {scenario!r}")
    rule = Rule(
        id=raw["id"], pack=pack, requirements=list(raw["requirements"]), title=raw["title"].strip(),
        rationale=" ".join(raw["rationale"].split()), severity=raw.get("severity") or reqs[0].severity,
        roles=list(roles), scenarios=list(scenarios), check_text=raw["check"].strip(),
        when_text=(raw.get("when") or "").strip() or None, evidence_text=dict(raw.get("evidence") or {}),
        params=_matrix_params(raw, matrix, where), message=dict(raw["message"]),
        remediation={k: " ".join(v.split()) if k == "text" else v.strip() for k, v in raw["remediation"].items()},
        source=raw.get("source") or "; ".join(r.source for r in reqs), path=path,
        when_false=raw.get("when_false", "not-applicable"), matrix_refs=dict(raw.get("matrix") or {}),
    )
    if rule.when_false == "fail" and not rule.when_text:
        raise UsageError(f"{where}: when_false: fail needs a when condition")
    expressions = {"check": rule.check_text, **{f"evidence.{k}": v for k, v in rule.evidence_text.items()}}
    if rule.when_text:
        expressions["when"] = rule.when_text
    for name, text in expressions.items():
        try:
            compiled = compile_expression(text)
        except ValueError as exc:
            raise UsageError(f"{where}: {name} is not a valid JMESPath expression: {exc}") from None
        if {"params", "target"} & relative_roots(compiled):
            raise UsageError(f"{where}: {name} reads params/target inside a filter or projection, where JMESPath "
                             "sees only the current item; use where_in/where_not_in/where_gt instead")
        for fact in root_paths(compiled):
            problem = check_fact_path(fact)
            if problem:
                raise UsageError(f"{where}: {name} reads {fact!r}: {problem} (see checks/facts.yaml)")
            if fact.startswith("params.") and fact.split(".")[1] not in rule.params:
                raise UsageError(f"{where}: {name} reads {fact!r} but the rule has no such param")
            rule.fact_paths.add(fact)
            if name == "when":
                rule.when_paths.add(fact)
        rule.compiled[name] = compiled
    for name, text in rule.message.items():
        try:
            TEMPLATES.parse(text.strip())  # syntax now; compiled on first use (most never render)
        except TemplateSyntaxError as exc:
            raise UsageError(f"{where}: message.{name} is not a valid template: {exc.message}") from None
    return rule


def load_pack(path: Path, catalog: Catalog | None = None, matrix: Matrix | None = None) -> list[Rule]:
    """Load and validate one rule pack file, its matrix params read from `matrix` (default: the seed's)."""
    catalog = catalog or default_catalog()
    matrix = matrix or load_matrix(DEFAULT_MATRIX)
    text = read_text(path, "rule file")
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise UsageError(f"{path}{line}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    try:
        PACK_VALIDATOR.validate(data)
    except jsonschema.ValidationError as exc:
        where = list(exc.absolute_path)
        location = "/".join(str(p) for p in where)
        rule_hint = ""
        if len(where) >= 2 and where[0] == "rules":
            raw = data["rules"][where[1]]
            rule_id = raw.get("id") if isinstance(raw, dict) else None
            rule_hint = f" rule {rule_id or f'#{where[1] + 1}'}"
        message = exc.message if len(exc.message) <= 160 else exc.message[:157] + "..."
        raise UsageError(f"{path}:{yaml_line(text, where)}:{rule_hint} invalid at {location or 'top level'}: "
                         f"{message}") from None
    rules = []
    for index, raw in enumerate(data["rules"]):
        try:
            rules.append(_build_rule(raw, data["pack"], str(path), catalog, matrix))
        except UsageError as exc:  # name the line of the rule, as for a schema error
            raise UsageError(str(exc).replace(f"{path}:", f"{path}:{yaml_line(text, ['rules', index])}:", 1)) \
                from None
    return rules


def load_rules(paths: list[Path] | None = None, catalog: Catalog | None = None,
               matrix: Matrix | None = None) -> list[Rule]:
    """All rules of the given pack files (default: every pack shipped in rules/)."""
    files = paths if paths else sorted(PACK_DIR.glob("*.yaml"))
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    for file in files:
        if file.name == "requirements.yaml":
            continue
        for rule in load_pack(file, catalog, matrix):
            if rule.id in seen:
                raise UsageError(f"{file}: rule ID {rule.id} is already used in {seen[rule.id]}")
            seen[rule.id] = str(file)
            rules.append(rule)
    return rules


@lru_cache(maxsize=4)  # one per matrix a run or a test compares
def default_rules(matrix: str = DEFAULT_MATRIX) -> tuple[Rule, ...]:
    """The shipped rules, judged against the named support matrix (default: the seeds')."""
    return tuple(load_rules(matrix=load_matrix(matrix)))
