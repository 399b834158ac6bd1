"""Facts documents: the plain-JSON contract between collection and judgement.

A scan can save them (`--save-facts`) and `readiness evaluate` re-judges them
with no network.  Nothing secret is ever put in them: transports keep
passwords to themselves and collectors strip proxy credentials.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from readiness import __version__
from readiness.errors import UsageError
from readiness.factschema import target_problem
from readiness.util import read_json

SCHEMA_VERSION = 1
KIND = "readiness-facts"


@dataclass
class TargetFacts:
    """Everything collected from one target, or why nothing could be."""

    uri: str
    name: str
    scheme: str
    roles: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    gaps: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    duration_s: float = 0.0
    collected_at: str = ""
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TargetFacts:
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown target fields {sorted(unknown)}")
        return cls(**data)


def facts_header() -> dict[str, Any]:
    """The fields of a facts file before its targets (what `read_facts` checks)."""
    return {"schema_version": SCHEMA_VERSION, "kind": KIND, "tool": {"name": "readiness", "version": __version__}}


class FactsWriter:
    """Streams targets into a facts file, so memory does not grow with the estate."""

    def __init__(self, path: Path) -> None:
        try:
            self._fh: IO[str] = path.open("w", encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write facts file {path}: {exc.strerror}") from None
        self._fh.write(json.dumps(facts_header())[:-1] + ', "targets": [\n')
        self._first = True

    def add(self, target: TargetFacts) -> None:
        self._fh.write(("" if self._first else ",\n") + json.dumps(target.to_json(), sort_keys=True))
        self._first = False

    def close(self) -> None:
        self._fh.write("\n]}\n")
        self._fh.close()


def write_facts(path: Path, targets: Iterable[TargetFacts]) -> None:
    writer = FactsWriter(path)
    for target in targets:
        writer.add(target)
    writer.close()


def read_facts(path: Path) -> Iterator[TargetFacts]:
    """Load a saved facts file; raise UsageError when it is not one.

    Each target is checked against the schema generated from checks/facts.yaml (readiness/factschema.py)
    before it is built, so a wrong type is one line naming its JSON path instead of a crash in judging.
    """
    streamed = _stream_targets(path)
    if streamed is not None:  # the layout FactsWriter writes: read a target at a time, memory stays flat
        header, entries = streamed
        yield from _checked(path, header, entries)
        return
    data = read_json(path, "facts file")
    yield from _checked(path, data, iter(data.get("targets") if isinstance(data, dict) else ()))


def _stream_targets(path: Path) -> tuple[dict[str, Any], Iterator[Any]] | None:
    """(header, targets one by one) for a file in FactsWriter's layout, else None (read it whole instead).

    FactsWriter puts the header and `"targets": [` on the first line and one target per line after it, so a
    file of 10,000 machines is read a machine at a time.  A file edited by hand into another layout is still
    valid JSON and is read whole.
    """
    try:
        fh = path.open(encoding="utf-8")
        first = fh.readline()
    except OSError as exc:
        raise UsageError(f"cannot read facts file {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path} is not a readiness facts file: invalid JSON ({exc})") from None
    if not first.rstrip("\n").endswith('"targets": ['):
        fh.close()
        return None
    try:
        header = json.loads(first.rstrip("\n") + "]}")
    except json.JSONDecodeError:
        fh.close()
        return None
    header["targets"] = []

    def entries() -> Iterator[Any]:
        closed = False
        with fh:
            try:
                for number, line in enumerate(fh, start=2):
                    text = line.strip().rstrip(",")
                    if text == "]}":
                        closed = True
                    elif text:
                        if closed:
                            raise UsageError(f"{path}:{number}: text after the end of the facts file")
                        yield json.loads(text)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise UsageError(f"{path}:{number}: not a readiness facts file: invalid JSON ({exc})") from None
        if not closed:
            raise UsageError(f"{path} ends early: the facts file was cut off (no closing ']}}')")
    return header, entries()


def _checked(path: Path, data: Any, targets: Iterator[Any]) -> Iterator[TargetFacts]:
    """The targets of a facts file, each checked against the facts schema before it is built."""
    if not isinstance(data, dict) or data.get("kind") != KIND:
        raise UsageError(f"{path} is not a readiness facts file (no \"kind\": \"{KIND}\")")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise UsageError(f"{path}: facts schema_version {data.get('schema_version')!r} is not supported "
                         f"(this readiness reads {SCHEMA_VERSION})")
    if not isinstance(data.get("targets"), list):
        raise UsageError(f"{path}: $.targets must be a list")
    for index, entry in enumerate(targets):
        problem = target_problem(entry, index)
        if problem:
            raise UsageError(f"{path}: target #{index + 1} is malformed: {problem}")
        yield TargetFacts.from_json(entry)
