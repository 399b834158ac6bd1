"""`readiness matrix list|show`: the support matrices rules are judged against, with their dates.

Kept beside cli.py: the verb only reads rules/matrices/ and the rules that cite them.  `show` says, for
every entry, its value, where it was read and which rules judge it; entries no rule reads and the matrix's
`not_judged` list are printed as "not judged", so what a newer matrix adds is visible, not silently lost.
"""

from __future__ import annotations

import argparse
import json

from readiness.gate import EXIT_OK
from readiness.matrix import DEFAULT_MATRIX, load_matrix, matrix_files
from readiness.rulepack import default_rules

#: Longest value printed on one line; longer lists are cut with their length given.
VALUE_WIDTH = 150


def add_matrix_command(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    matrix_p = sub.add_parser("matrix", help="list or show the support matrices (dated lists and limits)")
    matrix_sub = matrix_p.add_subparsers(dest="matrix_command", required=True, parser_class=type(matrix_p))
    matrix_sub.add_parser("list", help="every shipped matrix with its date")
    show_p = matrix_sub.add_parser("show", help="one matrix: entries, sources, rules judging them, what is not judged")
    show_p.add_argument("name", metavar="NAME", help="a matrix name (readiness matrix list) or a matrix file")


def matrix_option(parser: argparse.ArgumentParser) -> None:
    """--matrix NAME for every verb that loads rules."""
    parser.add_argument("--matrix", default=DEFAULT_MATRIX, metavar="NAME",
                        help=f"support matrix the rules judge against (default {DEFAULT_MATRIX}: the seeds'; "
                             "'readiness matrix list' lists them; a matrix file path is accepted)")


def _value_text(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False)
    if len(text) <= VALUE_WIDTH:
        return text
    count = f" ({len(value)} items)" if isinstance(value, (list, dict)) else ""
    return text[:VALUE_WIDTH - 4] + " ..." + count


def _release_text(item: dict[str, object]) -> str:
    """One release of a release list: its name, versions and how many kernels are listed for it."""
    name = item.get("name") or f"{item.get('distribution')}"
    versions = item.get("versions") or [item.get("version")]
    kernels = item.get("kernels")
    detail = f", {len(kernels)} kernel spec(s)" if isinstance(kernels, list) else ""
    builds = f", builds {item['builds']}" if item.get("builds") else ""
    return f"{name} [{', '.join(map(str, versions))}{builds}{detail}]"


def show_lines(spec: str) -> list[str]:
    """The text `readiness matrix show SPEC` prints (SPEC: a matrix name or file)."""
    matrix = load_matrix(spec)
    users: dict[str, list[str]] = {}
    for rule in default_rules(spec):
        for key in rule.matrix_refs.values():
            users.setdefault(key, []).append(rule.id)
    lines = [f"{matrix.name} ({matrix.date}): {matrix.title}", f"source: {matrix.source_text()}",
             *([f"note: {matrix.source['note']}"] if matrix.source.get("note") else []), "", "entries:"]
    for key, entry in matrix.entries.items():
        judged = ", ".join(sorted(set(users.get(key, [])))) or "not judged (no rule reads it)"
        releases = isinstance(entry.value, list) and bool(entry.value) and all(
            isinstance(v, dict) and ("name" in v or "versions" in v) for v in entry.value)
        lines.append(f"  {key}:" + ("" if releases else f" {_value_text(entry.value)}"))
        if releases:
            lines += [f"    - {_release_text(item)}" for item in entry.value]
        lines += [f"    source: {entry.source}", f"    judged by: {judged}"]
        if entry.note:
            lines.append(f"    note: {' '.join(entry.note.split())}")
    if matrix.not_judged:
        lines += ["", "not judged (the matrix says it, no rule checks it yet):"]
        lines += [f"  - {item['topic']}: {item['text']} [{item['source']}]" for item in matrix.not_judged]
    return lines


def cmd_matrix(args: argparse.Namespace) -> int:
    if args.matrix_command == "list":
        for name in matrix_files():
            matrix = load_matrix(name)
            default = " (default)" if name == DEFAULT_MATRIX else ""
            print(f"{name:<20} {matrix.date:<11} {len(matrix.entries):>3} entries  {matrix.title}{default}")
        return EXIT_OK
    print("\n".join(show_lines(args.name)))
    return EXIT_OK


COMMANDS = {"matrix": cmd_matrix}
