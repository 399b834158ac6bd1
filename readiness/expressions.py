"""The rule expression language: JMESPath plus a few functions registered here.

JMESPath is a specified, well-kept query language with no side effects and no
access to anything but the facts document, which is exactly what a rule may
see.  The handful of functions it lacks (version comparison, regular
expressions, set difference, lower-casing, glob matching) are added below and
nowhere else; rules name them like built-ins.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any

import jmespath
from jmespath import functions
from jmespath.exceptions import JMESPathError

from readiness import support


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", str(text)))


class ReadinessFunctions(functions.Functions):
    """Functions rules may call in addition to JMESPath's built-ins."""

    @functions.signature({"types": ["string", "number"]}, {"types": ["string", "number"]})
    def _func_version_cmp(self, left: Any, right: Any) -> int:
        """-1, 0 or 1 comparing dotted versions numerically ("2.6.39" < "3.8.13")."""
        a, b = _version_tuple(left), _version_tuple(right)
        return (a > b) - (a < b)

    @functions.signature({"types": ["string"]}, {"types": ["string", "null"]})
    def _func_regex_match(self, pattern: str, text: str | None) -> bool:
        """Whether the whole text matches the pattern (null never matches)."""
        return text is not None and re.fullmatch(pattern, text) is not None

    @functions.signature({"types": ["array", "null"]}, {"types": ["array", "null"]})
    def _func_missing_from(self, wanted: list[Any] | None, present: list[Any] | None) -> list[Any]:
        """Items of the first list absent from the second, in order."""
        have = set(map(str, present or []))
        return [item for item in (wanted or []) if str(item) not in have]

    @functions.signature({"types": ["array", "null"]}, {"types": ["array", "null"]})
    def _func_intersect(self, left: list[Any] | None, right: list[Any] | None) -> list[Any]:
        """Items of the first list also in the second."""
        have = set(map(str, right or []))
        return [item for item in (left or []) if str(item) in have]

    @functions.signature({"types": ["string", "null"]})
    def _func_lower(self, text: str | None) -> str | None:
        return text.lower() if text is not None else None

    @functions.signature({"types": ["array"]}, {"types": ["string", "null"]})
    def _func_glob_any(self, patterns: list[str], text: str | None) -> bool:
        """Whether the text matches any shell-style pattern ("VirtualMachine.Config.*")."""
        return text is not None and any(fnmatch.fnmatchcase(text, p) for p in patterns)

    @functions.signature({"types": ["object", "null"]}, {"types": ["array"]})
    def _func_missing_keys(self, mapping: dict[str, Any] | None, keys: list[str]) -> list[str]:
        """Keys of the list not present in the object (e.g. packages not installed)."""
        return [k for k in keys if k not in (mapping or {})]

    @functions.signature({"types": ["array", "null"]}, {"types": ["string"]}, {"types": ["array"]})
    def _func_where_not_in(self, items: list[Any] | None, key: str, values: list[Any]) -> list[Any]:
        """Items whose `key` is not one of the values (filters cannot see params, this can)."""
        return [item for item in (items or []) if isinstance(item, dict) and item.get(key) not in values]

    @functions.signature({"types": ["array", "null"]}, {"types": ["string"]}, {"types": ["array"]})
    def _func_where_in(self, items: list[Any] | None, key: str, values: list[Any]) -> list[Any]:
        """Items whose `key` is one of the values."""
        return [item for item in (items or []) if isinstance(item, dict) and item.get(key) in values]

    @functions.signature({"types": ["array", "null"]}, {"types": ["string"]}, {"types": ["number"]})
    def _func_where_gt(self, items: list[Any] | None, key: str, limit: float) -> list[Any]:
        """Items whose numeric `key` exceeds the limit (an item without a number raises: no silent pass)."""
        selected = []
        for item in items or []:
            value = item.get(key) if isinstance(item, dict) else None
            if not isinstance(value, (int, float)):
                raise ValueError(f"where_gt: item {item!r} has no number in {key!r}")
            if value > limit:
                selected.append(item)
        return selected

    @functions.signature({"types": ["array", "null"]}, {"types": ["string"]}, {"types": ["string", "null"]})
    def _func_where_version_gt(self, items: list[Any] | None, key: str, version: str | None) -> list[Any]:
        """Items whose dotted version in `key` is newer than the given one (null version: none)."""
        if version is None:
            return []
        limit = _version_tuple(version)
        return [item for item in (items or []) if isinstance(item, dict) and item.get(key) is not None
                and _version_tuple(item[key]) > limit]

    @functions.signature({"types": ["array"]}, {"types": ["string", "null"]}, {"types": ["string", "null"]},
                         {"types": ["string", "null"]})
    def _func_linux_support(self, releases: list[Any], distribution: str | None, version: str | None,
                            kernel: str | None) -> dict[str, Any]:
        """The support matrix's verdict on a Linux release and kernel (readiness.support.linux_support)."""
        return support.linux_support(releases, distribution, version, kernel)

    @functions.signature({"types": ["array"]}, {"types": ["string", "null"]}, {"types": ["number", "null"]},
                         {"types": ["number", "null"]}, {"types": ["string", "null"]})
    def _func_windows_release(self, releases: list[Any], version: str | None, build: int | None,
                              service_pack: int | None, product_type: str | None) -> str | None:
        """The matrix's name for this Windows release, or null when it is not listed."""
        return support.windows_release(releases, version, build, service_pack, product_type)

    @functions.signature({"types": ["array"]}, {"types": ["string", "null"]})
    def _func_version_in(self, versions: list[str], text: str | None) -> bool:
        """Whether a product version ("6.0.0") belongs to one of the listed lines ("6.0", "5.5")."""
        return support.version_in(versions, text)

    @functions.signature({"types": ["array", "null"]})
    def _func_unique(self, items: list[Any] | None) -> list[Any]:
        """The distinct items, in first-seen order."""
        seen: list[Any] = []
        for item in items or []:
            if item not in seen:
                seen.append(item)
        return seen

    @functions.signature({"types": ["number"]}, {"types": ["number"]})
    def _func_product(self, left: float, right: float) -> float:
        """left × right (JMESPath has no arithmetic; capacity rules need one product)."""
        return left * right

    @functions.signature({"types": ["number", "null"]}, {"types": ["number"]})
    def _func_round(self, value: float | None, digits: int) -> float | None:
        return None if value is None else round(value, int(digits))

    @functions.signature({"types": []}, {"types": []}, {"types": []})
    def _func_choose(self, condition: Any, then: Any, otherwise: Any) -> Any:
        """`then` when the condition is truthy, else `otherwise`: JMESPath's `a && b || c` turns a false or
        null `b` into `c`, which loses the difference between fail (false) and cannot judge (null)."""
        falsy = condition is None or condition is False or (isinstance(condition, (list, dict, str)) and not condition)
        return otherwise if falsy else then


OPTIONS = jmespath.Options(custom_functions=ReadinessFunctions())


def compile_expression(text: str) -> Any:
    """Compile once at load time; raise ValueError with JMESPath's own message."""
    try:
        return jmespath.compile(text)
    except JMESPathError as exc:
        raise ValueError(" ".join(str(exc).split())) from None


def evaluate(compiled: Any, data: dict[str, Any]) -> Any:
    return compiled.search(data, options=OPTIONS)


FUNCTION_NAMES = frozenset(name[len("_func_"):] for name in dir(ReadinessFunctions) if name.startswith("_func_"))


def relative_roots(compiled: Any) -> set[str]:
    """First names read inside projections and filters (relative to each item)."""
    names: set[str] = set()

    def walk(node: dict[str, Any], relative: bool) -> None:
        kind = node["type"]
        children = node.get("children", [])
        if kind == "field" and relative:
            names.add(node["value"])
        if kind in ("projection", "value_projection", "filter_projection", "pipe"):
            walk(children[0], relative)
            for child in children[1:]:
                walk(child, True)
        elif kind == "subexpression" or kind == "index_expression":
            walk(children[0], relative)
        else:
            for child in children:
                walk(child, relative or kind == "expref")

    walk(compiled.parsed, False)
    return names


def root_paths(compiled: Any) -> set[str]:
    """Dotted fact paths an expression reads from the document root.

    Used to reject unknown fact names when a rule is loaded, and to report a
    rule as `error` (not `fail`) when a fact it needs was not collected.
    Paths under projections, filters and pipes are relative to array items and
    are not root paths.
    """
    found: set[str] = set()

    def leading(node: dict[str, Any]) -> list[str]:
        if node["type"] == "field":
            return [node["value"]]
        if node["type"] == "subexpression":
            names: list[str] = []
            for child in node["children"]:
                part = leading(child)
                names += part
                if child["type"] not in ("field", "subexpression") or not part:
                    break
            return names
        if node["type"] in ("index_expression", "projection", "value_projection", "filter_projection",
                            "flatten"):
            return leading(node["children"][0])
        return []

    def walk(node: dict[str, Any], rooted: bool) -> None:
        kind = node["type"]
        children = node.get("children", [])
        if kind in ("field", "subexpression", "index_expression"):
            if rooted:
                path = leading(node)
                if path:
                    found.add(".".join(path))
            for index, child in enumerate(children):
                walk(child, rooted and index == 0 and kind != "field")
        elif kind in ("projection", "value_projection", "filter_projection", "pipe"):
            walk(children[0], rooted)
            for child in children[1:]:
                walk(child, False)
        elif kind == "expref":
            for child in children:
                walk(child, False)
        else:
            for child in children:
                walk(child, rooted)

    walk(compiled.parsed, True)
    # A chain's inner fields are reported with their chain; keep only the longest.
    return {p for p in found if not any(q.startswith(p + ".") for q in found)}
