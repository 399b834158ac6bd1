"""The JSON report CI gates consume (schema in readiness/schemas/report.schema.json).

Written as it is judged: the run metadata, then one target per line as each
is judged, then what is only known at the end (duration, summary, estate,
gate).  Key order does not matter to JSON; memory does, so no target is
kept once written.  `json.dumps` without indentation runs on the C encoder.

Two thirds of a finding's bytes are its rule's metadata (title, rationale, remediation, source …), the same
for every target: on a 10,000-VM estate that was 86 of 130 MB, all encoded again per finding.  Those parts
are encoded once per rule and spliced in; what differs per finding (status, message, evidence, waiver) is
encoded each time.  The text is the same JSON, key for key and in the same order (tests/test_reporters.py
compares it with plain `json.dumps`); a finding with any other set of keys is encoded whole.
"""

from __future__ import annotations

import json
from typing import Any

from readiness.reporters.base import HEADER_KEYS, Reporter


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


#: The keys of a finding (readiness.engine.Finding.to_json), in order: rule metadata (static) or per finding.
FINDING_KEYS = ("rule_id", "requirements", "title", "severity", "status", "message", "scenarios", "evidence",
                "remediation", "remediation_command", "rationale", "source", "waived", "waiver")
_KNOWN = frozenset(FINDING_KEYS)
_STATIC_BEFORE = ("rule_id", "requirements", "title", "severity")
_STATIC_AFTER = ("remediation", "remediation_command", "rationale", "source")
_encode_str = json.encoder.encode_basestring  # what json.dumps(str, ensure_ascii=False) calls


class _FindingEncoder:
    """Findings as JSON text, with each rule's metadata encoded once (see the module docstring)."""

    def __init__(self) -> None:
        self._static: dict[tuple[Any, ...], tuple[str, str, str]] = {}

    def encode(self, finding: dict[str, Any]) -> str:
        if finding.keys() != _KNOWN:
            return _dumps(finding)
        try:
            key = (*(finding[k] if k != "requirements" else tuple(finding[k]) for k in _STATIC_BEFORE),
                   tuple(finding["scenarios"]), *(finding[k] for k in _STATIC_AFTER))
            parts = self._static.get(key)
        except TypeError:  # metadata of a kind rules do not produce (unhashable): encoded whole
            return _dumps(finding)
        if parts is None:
            before, after = (_dumps({k: finding[k] for k in keys})[:-1] for keys in (_STATIC_BEFORE, _STATIC_AFTER))
            parts = self._static[key] = (before + ", ", _dumps(finding["scenarios"]), ", " + after[1:])
        status, message, evidence, waiver = (finding["status"], finding["message"], finding["evidence"],
                                             finding["waiver"])
        if not (type(status) is str and type(message) is str):
            return _dumps(finding)
        evidence_text = "{}" if type(evidence) is dict and not evidence else _dumps(evidence)
        return (f'{parts[0]}"status": {_encode_str(status)}, "message": {_encode_str(message)}, '
                f'"scenarios": {parts[1]}, "evidence": {evidence_text}{parts[2]}, '
                f'"waived": {_dumps(finding["waived"])}, "waiver": {"null" if waiver is None else _dumps(waiver)}}}')

    def entry(self, entry: dict[str, Any]) -> str:
        """One target entry; its findings (the last key, as report.target_entry builds it) spliced in."""
        if not isinstance(entry.get("findings"), list) or next(reversed(entry)) != "findings":
            return _dumps(entry)
        head = _dumps({k: v for k, v in entry.items() if k != "findings"})
        findings = ", ".join(self.encode(f) if isinstance(f, dict) else _dumps(f) for f in entry["findings"])
        return f'{head[:-1]}{", " if len(entry) > 1 else ""}"findings": [{findings}]}}'


class JsonReporter(Reporter):
    def begin(self, header: dict[str, Any]) -> None:
        self.out.write("{" + "".join(f"{_dumps(k)}: {_dumps(v)}, " for k, v in header.items()) + '"targets": [')
        self._first = True
        self._encoder = _FindingEncoder()

    def add(self, entry: dict[str, Any]) -> None:
        self.out.write(("\n" if self._first else ",\n") + self._encoder.entry(entry))
        self._first = False

    def end(self, report: dict[str, Any]) -> None:
        tail = {k: v for k, v in report.items() if k not in HEADER_KEYS and k != "targets"}
        self.out.write("\n]" + "".join(f",\n{_dumps(k)}: {_dumps(v)}" for k, v in tail.items()) + "\n}\n")
