"""JMESPath expressions turned into Python closures once, so judging does not walk the syntax tree per target.

jmespath's TreeInterpreter dispatches every node through a generic `visit` (a dict lookup and a bound-method
call per node, per evaluation): on a 10,000-VM estate the rules' 190,000 evaluations spent 1.8 s there
(issue 11).  A closure per node does the same work without the dispatch.  The semantics are the
interpreter's, node for node (null propagation, JMESPath truthiness, the 0/1-versus-boolean equality case,
ordering only between numbers or strings); functions still go through the same `Functions` object, so
argument type checks raise the same `JMESPathTypeError`.  A node kind not handled here is evaluated by the
interpreter itself, so no expression is ever refused.  tests/test_jmesfast.py checks every rule expression
against the interpreter on every fixture.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from jmespath import visitor
from jmespath.functions import REVERSE_TYPES_MAP
from jmespath.visitor import TreeInterpreter, _equals, _is_comparable

from readiness.expressions import OPTIONS

Fn = Callable[[Any], Any]

_INTERPRETER = TreeInterpreter(OPTIONS)
_ORDERING = {"lt": operator.lt, "gt": operator.gt, "lte": operator.le, "gte": operator.ge}
_is_actual_number = visitor._is_actual_number


def _is_false(value: Any) -> bool:
    """JMESPath falsiness, spelled as the interpreter spells it (equality, not Python truthiness)."""
    return value == "" or value == [] or value == {} or value is None or value is False


def _chain(steps: list[Fn]) -> Fn:
    """Subexpressions, index expressions and pipes: each step reads what the previous one gave."""
    if len(steps) == 2:
        first, second = steps

        def two(value: Any) -> Any:
            return second(first(value))
        return two

    def many(value: Any) -> Any:
        for step in steps:
            value = step(value)
        return value
    return many


def _field(name: str) -> Fn:
    def field(value: Any) -> Any:
        try:
            return value.get(name)
        except AttributeError:
            return None
    return field


def _comparator(op: str, left: Fn, right: Fn) -> Fn:
    if op == "eq":
        return lambda value: _equals(left(value), right(value))
    if op == "ne":
        return lambda value: not _equals(left(value), right(value))
    compare = _ORDERING[op]

    def ordering(value: Any) -> Any:
        a, b = left(value), right(value)
        if not (_is_comparable(a) and _is_comparable(b)):
            return None
        return compare(a, b)
    return ordering


def _function(name: str, args: list[Fn]) -> Fn:
    """A function call.  The common case (right arity, every argument's type allowed at top level, no typed
    array in the signature) is checked against sets built here once; anything else goes through
    `call_function`, which raises exactly the interpreter's error."""
    functions = OPTIONS.custom_functions
    call = functions.call_function
    spec = functions.FUNCTION_TABLE.get(name)
    signature = spec["signature"] if spec else None
    if (not spec or not signature or len(signature) != len(args) or signature[-1].get("variadic")
            or any("-" in t for s in signature for t in s["types"])):
        return lambda value: call(name, [arg(value) for arg in args])
    method, owner = spec["function"], functions
    allowed = [frozenset(py for t in s["types"] for py in REVERSE_TYPES_MAP[t]) if s["types"] else None
               for s in signature]

    def function(value: Any) -> Any:
        resolved = [arg(value) for arg in args]
        for current, types in zip(resolved, allowed, strict=True):
            if types is not None and type(current).__name__ not in types:
                return call(name, resolved)  # raises the interpreter's JMESPathTypeError
        return method(owner, *resolved)
    return function


def _projection(base: Fn, each: Fn) -> Fn:
    def projection(value: Any) -> Any:
        items = base(value)
        if not isinstance(items, list):
            return None
        return [current for item in items if (current := each(item)) is not None]
    return projection


def _filter(base: Fn, each: Fn, condition: Fn) -> Fn:
    def filtered(value: Any) -> Any:
        items = base(value)
        if not isinstance(items, list):
            return None
        return [current for item in items
                if not _is_false(condition(item)) and (current := each(item)) is not None]
    return filtered


def _flatten(base: Fn) -> Fn:
    def flatten(value: Any) -> Any:
        items = base(value)
        if not isinstance(items, list):
            return None
        merged: list[Any] = []
        for item in items:
            if isinstance(item, list):
                merged.extend(item)
            else:
                merged.append(item)
        return merged
    return flatten


def _index(position: int) -> Fn:
    def index(value: Any) -> Any:
        if not isinstance(value, list):
            return None
        try:
            return value[position]
        except IndexError:
            return None
    return index


def _or(left: Fn, right: Fn) -> Fn:
    def either(value: Any) -> Any:
        matched = left(value)
        return right(value) if _is_false(matched) else matched
    return either


def _and(left: Fn, right: Fn) -> Fn:
    def both(value: Any) -> Any:
        matched = left(value)
        return matched if _is_false(matched) else right(value)
    return both


def _not(inner: Fn) -> Fn:
    def negation(value: Any) -> Any:
        result = inner(value)
        if _is_actual_number(result) and result == 0:
            return False  # !0 is false in JMESPath: 0 is not a falsy value there
        return not result
    return negation


def _multi_list(children: list[Fn]) -> Fn:
    return lambda value: None if value is None else [child(value) for child in children]


def _multi_dict(pairs: list[tuple[str, Fn]]) -> Fn:
    return lambda value: None if value is None else {key: child(value) for key, child in pairs}


def _literal(constant: Any) -> Fn:
    return lambda value: constant


def _identity(value: Any) -> Any:
    return value


def build(node: dict[str, Any]) -> Fn:
    """The closure for one syntax-tree node."""
    kind, children = node["type"], node.get("children", [])
    if kind == "field":
        return _field(node["value"])
    if kind in ("subexpression", "index_expression", "pipe"):
        return _chain([build(child) for child in children])
    if kind == "literal":
        return _literal(node["value"])
    if kind in ("identity", "current"):
        return _identity
    if kind == "comparator":
        return _comparator(node["value"], build(children[0]), build(children[1]))
    if kind == "function_expression":
        return _function(node["value"], [build(child) for child in children])
    if kind == "and_expression":
        return _and(build(children[0]), build(children[1]))
    if kind == "or_expression":
        return _or(build(children[0]), build(children[1]))
    if kind == "not_expression":
        return _not(build(children[0]))
    if kind == "projection":
        return _projection(build(children[0]), build(children[1]))
    if kind == "filter_projection":
        return _filter(build(children[0]), build(children[1]), build(children[2]))
    if kind == "flatten":
        return _flatten(build(children[0]))
    if kind == "index":
        return _index(node["value"])
    if kind == "key_val_pair":
        return build(children[0])
    if kind == "multi_select_list":
        return _multi_list([build(child) for child in children])
    if kind == "multi_select_dict":
        return _multi_dict([(child["value"], build(child)) for child in children])
    # expref, slice, value_projection …: the interpreter itself, for exactly its semantics
    return lambda value: _INTERPRETER.visit(node, value)


def evaluate(compiled: Any, data: dict[str, Any]) -> Any:
    """What `compiled.search(data, options=OPTIONS)` gives, from a closure built on first use and kept on the
    compiled expression (rules compile each expression once, when they are loaded)."""
    fast = getattr(compiled, "_readiness_fast", None)
    if fast is None:
        fast = compiled._readiness_fast = build(compiled.parsed)
    return fast(data)
