"""Small text helpers every Linux section parser shares."""

from __future__ import annotations

import shlex


def lines(text: str | None) -> list[str]:
    """The non-blank lines of a section (None: the section was absent)."""
    return [line for line in (text or "").splitlines() if line.strip()]


def parse_os_release(text: str) -> dict[str, str]:
    """KEY=value lines with shell quoting, as os-release(5) defines them."""
    values: dict[str, str] = {}
    for line in lines(text):
        if line.lstrip().startswith("#") or "=" not in line:
            continue
        key, _, raw = line.partition("=")
        try:
            parts = shlex.split(raw)
        except ValueError:
            parts = [raw.strip("\"'")]
        values[key.strip()] = parts[0] if parts else ""
    return values
