"""The Windows probe parser is total: property tests over mutated probe outputs, seeded from the fixtures.

Two properties, each bounded (a fixed number of examples, no deadline: judged by what happens, not by
how fast):
- any change *inside* a section's JSON (a value replaced by any JSON, a [null] item, a lone object for a
  list, a key dropped, a value nulled) never raises: the parser returns plain-JSON facts in the contract
  and records the malformed section as gaps with the reason;
- output cut anywhere before its trailer is refused with ValueError ("ended early"), never parsed into
  half a host, and never a crash of another kind.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from readiness.checks.windows.framing import HEADER, split_sections
from readiness.checks.windows.parse import parse_probe
from readiness.rulepack import known_facts

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "windows"
TEXTS = {p.stem: p.read_text(encoding="ascii") for p in sorted(FIXTURES.glob("*.txt"))}
CONTRACT = known_facts()

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**64) | st.floats(allow_nan=True, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8)
BOUNDED = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


def render_raw(sections: dict[str, tuple[bool, Any]]) -> str:
    """Probe framing around arbitrary JSON (json.dumps keeps the None items the probe's writer drops)."""
    lines = [HEADER]
    for name, (ok, value) in sections.items():
        lines += [f"==section {name} {'ok' if ok else 'error'}", json.dumps(value, separators=(",", ":"))]
    lines.append(f"==end {len(sections)}")
    return "\r\n".join(lines) + "\r\n"


def mutate(data: st.DataObject, root: Any) -> Any:
    """Walk down a random path, then change what is there in one of the ways PowerShell output goes wrong."""
    holder: list[Any] = [root]
    parent: Any = holder
    key: Any = 0
    node = root
    while isinstance(node, (dict, list)) and node and data.draw(st.booleans()):
        key = data.draw(st.sampled_from(sorted(node) if isinstance(node, dict) else list(range(len(node)))))
        parent, node = node, node[key]
    op = data.draw(st.sampled_from(["replace", "null", "null-item", "unwrap", "drop"]))
    if op == "replace":
        parent[key] = data.draw(JSON)
    elif op == "null":
        parent[key] = None
    elif op == "null-item" and isinstance(node, list):
        node.insert(data.draw(st.integers(0, len(node))), None)
    elif op == "unwrap" and isinstance(node, list) and node:
        parent[key] = node[0]
    elif op == "drop" and isinstance(parent, dict):
        del parent[key]
    return holder[0]


def check_facts(facts: dict[str, Any], gaps: dict[str, str]) -> None:
    json.dumps(facts)  # plain JSON
    assert facts["os"]["family"] == "windows"
    for namespace, values in facts.items():
        assert namespace in CONTRACT, namespace
        unknown = set(values) - CONTRACT[namespace] - {"duration_s", "transport"}
        assert not unknown, f"{namespace}: {unknown} are not in checks/facts.yaml"
    assert all(isinstance(reason, str) and reason for reason in gaps.values())
    # the builders' safety net (parse._Parse.guarded) must never be what saved the host
    assert not [reason for reason in gaps.values() if "could not be read" in reason], gaps


@BOUNDED
@given(data=st.data())
def test_any_change_inside_a_section_becomes_facts_or_gaps(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(TEXTS)))
    sections = split_sections(TEXTS[name])
    section = data.draw(st.sampled_from(sorted(sections)))
    ok, value = sections[section]
    for _ in range(data.draw(st.integers(1, 3))):
        value = mutate(data, copy.deepcopy(value))
    sections[section] = (ok, value)
    facts, gaps = parse_probe(render_raw(sections))
    check_facts(facts, gaps)


@BOUNDED
@given(data=st.data())
def test_output_cut_before_the_trailer_is_refused(data: st.DataObject) -> None:
    text = TEXTS[data.draw(st.sampled_from(sorted(TEXTS)))]
    trailer = text.rindex("==end ")
    cut = data.draw(st.integers(0, trailer))
    try:
        parse_probe(text[:cut])
    except ValueError as exc:
        assert "ended early" in str(exc) or "no probe header" in str(exc) or cut < len(HEADER) + 2
    else:
        raise AssertionError(f"output cut at {cut} of {len(text)} bytes was accepted")


@BOUNDED
@given(data=st.data())
def test_a_section_that_failed_on_the_target_spares_the_others(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(TEXTS)))
    sections = split_sections(TEXTS[name])
    failed = data.draw(st.sets(st.sampled_from(sorted(sections)), min_size=1, max_size=4))
    message = data.draw(st.text(max_size=20))
    for section in failed:
        sections[section] = (False, message)
    facts, gaps = parse_probe(render_raw(sections))
    check_facts(facts, gaps)
    assert all(any(r.startswith(f"probe section {s} failed on the target") for r in gaps.values()) for s in failed)
