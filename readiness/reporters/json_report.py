"""The JSON report CI gates consume (schema in readiness/schemas/report.schema.json).

Written as it is judged: the run metadata, then one target per line as each
is judged, then what is only known at the end (duration, summary, estate,
gate).  Key order does not matter to JSON; memory does, so no target is
kept once written.  `json.dumps` without indentation runs on the C encoder.
"""

from __future__ import annotations

import json
from typing import Any

from readiness.reporters.base import HEADER_KEYS, Reporter


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


class JsonReporter(Reporter):
    def begin(self, header: dict[str, Any]) -> None:
        self.out.write("{" + "".join(f"{_dumps(k)}: {_dumps(v)}, " for k, v in header.items()) + '"targets": [')
        self._first = True

    def add(self, entry: dict[str, Any]) -> None:
        self.out.write(("\n" if self._first else ",\n") + _dumps(entry))
        self._first = False

    def end(self, report: dict[str, Any]) -> None:
        tail = {k: v for k, v in report.items() if k not in HEADER_KEYS and k != "targets"}
        self.out.write("\n]" + "".join(f",\n{_dumps(k)}: {_dumps(v)}" for k, v in tail.items()) + "\n}\n")
