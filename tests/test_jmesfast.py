"""The closure evaluator (readiness.jmesfast) gives what jmespath's own interpreter gives, for every rule.

Every compiled expression of every shipped rule (applies-when, evidence, check) is evaluated both ways on real
facts documents (the Windows probe fixtures, this machine's facts) and on damaged copies of them (each
namespace missing, each fact null, each list empty, each value of the wrong type), so null propagation,
truthiness, comparisons and function type errors are all exercised.  Results must be identical, types
included (JSON text compared, so `true` is not `1`), and so must the exception a function raises.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jmespath.visitor import TreeInterpreter

from readiness.checks.windows.parse import parse_probe
from readiness.engine import target_document
from readiness.expressions import OPTIONS, compile_expression, evaluate
from readiness.facts import TargetFacts
from readiness.jmesfast import build
from readiness.jmesfast import evaluate as fast_evaluate
from readiness.rulepack import default_rules

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "windows"


def outcome(run: Any) -> tuple[str, str]:
    try:
        return "value", json.dumps(run(), sort_keys=True, default=repr)
    except Exception as exc:  # the same error, raised the same way, is part of the contract
        return type(exc).__name__, str(exc)


def documents() -> list[dict[str, Any]]:
    """Real documents, then damaged copies of them."""
    real = []
    for name in ("win2008r2-sp1", "win2019", "win2012r2-mobility", "win2019-wmi-denied"):
        facts, _ = parse_probe((FIXTURES / f"{name}.txt").read_text())
        target = TargetFacts(uri=f"winrm://{name}", name=name, scheme="winrm", roles=["protected-windows"],
                             facts=facts)
        real.append(target_document(target))
    damaged = []
    for document in real[:1]:
        for namespace, value in document.items():
            damaged.append({**document, namespace: None})
            if not isinstance(value, dict):
                continue
            for key, inner in value.items():
                damaged.append({**document, namespace: {**value, key: None}})
                wrong: Any = "text" if not isinstance(inner, str) else 7
                damaged.append({**document, namespace: {**value, key: wrong}})
                if isinstance(inner, list):
                    damaged.append({**document, namespace: {**value, key: []}})
    return real + damaged


@pytest.fixture(scope="module")
def expressions() -> list[tuple[str, str, Any]]:
    return [(rule.id, stage, compiled) for rule in default_rules() for stage, compiled in rule.compiled.items()]


def test_every_rule_expression_agrees_with_the_interpreter(expressions: list[tuple[str, str, Any]]) -> None:
    docs = documents()
    assert len(docs) > 100 and len(expressions) > 300
    compared = disagreements = 0
    for rule_id, stage, compiled in expressions:
        for document in docs:
            data = {**document, "params": {}}
            ours = outcome(lambda c=compiled, d=data: fast_evaluate(c, d))
            theirs = outcome(lambda c=compiled, d=data: evaluate(c, d))
            compared += 1
            if ours != theirs:
                disagreements += 1
                assert ours == theirs, f"{rule_id} {stage}: {compiled.expression}"
    assert compared > 30_000 and disagreements == 0


@pytest.mark.parametrize(("expression", "document"), [
    ("a == `1`", {"a": True}), ("a == `0`", {"a": False}), ("a != `1`", {"a": True}),
    ("!a", {"a": 0}), ("!a", {"a": ""}), ("!a", {"a": []}), ("a < b", {"a": "x", "b": 1}),
    ("a < b", {"a": "a", "b": "b"}), ("a || b", {"a": {}, "b": 2}), ("a && b", {"a": [], "b": 2}),
    ("a[?b].c", {"a": [{"b": 0, "c": 1}, {"b": "", "c": 2}, {"b": True}]}), ("a[].b[]", {"a": [{"b": [1, [2]]}]}),
    ("a[1]", {"a": [1]}), ("a[-1]", {"a": [1, 2]}), ("a[0]", {"a": "str"}), ("a.b.c", {"a": [1]}),
    ("length(a)", {"a": None}), ("length(a)", {"a": 3}), ("contains(a, `1`)", {"a": "x"}),
    ("{x: a, y: b}", {"a": 1}), ("{x: a}", None), ("[a, b]", None), ("a[*].b", {"a": [{"b": 1}, {}]}),
    ("a.*", {"a": {"x": 1, "y": None}}), ("a[:1]", {"a": [1, 2]}), ("sort_by(a, &b)", {"a": [{"b": 2}, {"b": 1}]}),
    ("max_by(a, &b).b", {"a": [{"b": "x"}, {"b": 1}]}), ("a | b", {"a": {"b": 5}}), ("@", {"a": 1}),
    ("join(', ', a)", {"a": ["x", 1]}), ("not_null(a, b)", {"b": 2}), ("where_in(a, 'p', `[22]`)", {"a": None}),
])
def test_edge_cases_agree(expression: str, document: Any) -> None:
    compiled = compile_expression(expression)
    interpreter = TreeInterpreter(OPTIONS)
    assert outcome(lambda: build(compiled.parsed)(document)) == outcome(
        lambda: interpreter.visit(compiled.parsed, document))
