"""Clock skew from an HTTP Date header: one computation for every network probe.

The local checks, the SSH-side network probe and the Windows probe all read a
trusted server's Date header and the machine's own clock right after the
answer; this turns that pair into the `connectivity.clock` fact.  It is total:
whatever the server sent (a huge year, garbage), the result is a skew or an
error the rules report as a gap, never an exception.
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
        value = round(float(epoch) - reference, 1)
    except (TypeError, ValueError, OverflowError, OSError, IndexError) as exc:
        # A year like 99999999 overflows datetime (OverflowError) or the platform's time_t (OSError).
        shown = date if len(date) <= 80 else date[:80] + "…"
        return {"reference": source, "skew_s": None,
                "error": f"unreadable Date header {shown!r}: {type(exc).__name__}: {str(exc)[:120]}"}
    if value != value or abs(value) == float("inf"):  # NaN or infinite: no skew can be stated
        return {"reference": source, "skew_s": None, "error": f"unreadable Date header {date!r}: not a finite time"}
    return {"reference": source, "skew_s": value, "error": None, "date": date}
