"""The Windows probe's output format, both ways: reading the frames, and writing them as probe.ps1 does.

probe.ps1 prints a header, then per section `==section NAME ok|error` and one JSON line, then the
trailer `==end N` (N sections written). Output without the trailer was cut short (a killed
powershell.exe, a dropped WinRM receive, the output cap): its sections may be incomplete, so the whole
output is refused with how far it got, and the target is unknown rather than judged on half a probe.

The writer (`emit`, `render`) is what the fixtures and masked captures are written with: byte for byte
what probe.ps1's Get-Json prints, so a fixture cannot hold what the probe could never print.
"""

from __future__ import annotations

import json
import re
from typing import Any

HEADER = "==readiness-windows-probe 2"
TRAILER = re.compile(r"^==end (\d+)$")
SECTION = re.compile(r"^==section ([a-z_]+) (ok|error)$")


class Truncated(ValueError):
    """The output stopped before the trailer (or inside a section)."""


def split_sections(text: str) -> dict[str, tuple[bool, Any]]:
    """Section name -> (ok, decoded JSON); ValueError when the framing is broken or cut short."""
    lines = [line.rstrip("\r") for line in text.splitlines()]
    try:
        start = lines.index(HEADER)
    except ValueError:
        if any(line.startswith("==readiness-windows-probe ") for line in lines):
            raise ValueError("probe format version differs from this readiness (mixed versions?)") from None
        raise ValueError("no probe header (not the readiness Windows probe, or PowerShell failed to start)") from None
    early = Truncated(f"probe output ended early after {len(text.encode('utf-8', 'replace'))} bytes "
                      "(no ==end trailer: the probe was stopped or its output cut off)")
    sections: dict[str, tuple[bool, Any]] = {}
    index = start + 1
    while index < len(lines):
        line = lines[index]
        trailer = TRAILER.match(line)
        if trailer:
            if int(trailer.group(1)) != len(sections):
                raise ValueError(f"trailer counts {trailer.group(1)} sections, the output holds {len(sections)}")
            return sections
        match = SECTION.match(line)
        if not match:
            if index == len(lines) - 1 and not text.endswith(("\n", "\r")):
                raise early  # a frame line cut in the middle
            raise ValueError(f"unexpected line {index + 1}: {line[:60]!r}")
        if index + 1 >= len(lines):
            raise early
        body = lines[index + 1]
        if SECTION.match(body) or TRAILER.match(body):
            raise ValueError(f"section {match.group(1)} has no body")
        try:
            value = json.loads(body)
        except (json.JSONDecodeError, RecursionError) as exc:
            if index + 2 >= len(lines) and not text.endswith(("\n", "\r")):
                raise early from None  # the last line was cut in the middle
            raise ValueError(f"section {match.group(1)} is not valid JSON: {exc}") from None
        if match.group(1) in sections:
            raise ValueError(f"section {match.group(1)} appears twice")
        sections[match.group(1)] = (match.group(2) == "ok", value)
        index += 2
    raise early


def _string(text: str) -> str:
    out = ['"']
    for ch in text:
        code = ord(ch)
        if code == 34:
            out.append('\\"')
        elif code == 92:
            out.append("\\\\")
        elif code < 32 or code > 126:
            if code > 0xFFFF:  # .NET strings are UTF-16: a surrogate pair, escaped one unit at a time
                high, low = divmod(code - 0x10000, 0x400)
                out.append(f"\\u{0xD800 + high:04x}\\u{0xDC00 + low:04x}")
            else:
                out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def emit(value: Any) -> str:
    """JSON exactly as probe.ps1's Get-Json writes it (no spaces, \\uxxxx escapes, no null list items)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{_string(str(k))}:{emit(v)}" for k, v in value.items()) + "}"
    return "[" + ",".join(emit(v) for v in value if v is not None) + "]"


def render(sections: dict[str, tuple[bool, Any]]) -> str:
    """Probe output for these sections, in the given order, with the trailer."""
    lines = [HEADER]
    for name, (ok, value) in sections.items():
        lines += [f"==section {name} {'ok' if ok else 'error'}", emit(value) if ok else _string(str(value))]
    lines.append(f"==end {len(sections)}")
    return "\r\n".join(lines) + "\r\n"
