"""Clock skew from an HTTP Date header: one computation for every network probe.

The local checks, the SSH-side network probe and the Windows probe all read a
trusted server's Date header and the machine's own clock right after the
answer; this turns that pair into the `connectivity.clock` fact.
"""

from __future__ import annotations

import email.utils
from typing import Any


def first_dated(endpoints: list[dict[str, Any]]) -> tuple[str | None, str | None, float | None, str | None]:
    """(source URL, date, local epoch, error) of the first endpoint that answered with a Date header.

    In the order `skew` takes them: `skew(*first_dated(endpoints))`.
    """
    for endpoint in endpoints:
        http = endpoint.get("http") or {}
        if http.get("date"):
            return endpoint.get("url"), http["date"], http.get("epoch"), None
    return None, None, None, "no endpoint answered with an HTTP Date header"


def skew(source: str | None, date: str | None, epoch: float | None, error: str | None) -> dict[str, Any]:
    """The machine's clock minus the Date header, in seconds (negative: the machine is behind)."""
    if not date or epoch is None:
        return {"reference": source, "skew_s": None, "error": error or "no Date header"}
    try:
        reference = email.utils.parsedate_to_datetime(date).timestamp()
    except (TypeError, ValueError) as exc:
        return {"reference": source, "skew_s": None, "error": f"unreadable Date header {date!r}: {exc}"}
    return {"reference": source, "skew_s": round(epoch - reference, 1), "error": None, "date": date}
