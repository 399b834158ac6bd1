"""Split the probe's framed output into sections.

The framing is our own wire format (see probe.sh), so this is the one parser
that has to be ours; everything inside a section is parsed by the module that
understands that file or command.
"""

from __future__ import annotations

from dataclasses import dataclass

from readiness.errors import TargetError

MARK = "@@readiness@@ "
#: probe.sh's last line. Without it the output was cut (connection dropped, output cap, killed shell).
TRAILER = "done"


@dataclass
class Section:
    """One command's output or one file's content from the probe."""

    kind: str  # "cmd" | "file" | "missing"
    name: str
    text: str = ""
    rc: int | None = None


@dataclass
class ProbeOutput:
    """All sections of one probe run, looked up by name."""

    commands: dict[str, Section]
    files: dict[str, Section]
    missing: set[str]

    def cmd(self, name: str) -> str | None:
        """The output of a command section, or None when it did not run."""
        section = self.commands.get(name)
        return section.text if section is not None else None

    def file(self, path: str) -> str | None:
        section = self.files.get(path)
        return section.text if section is not None else None


def split_sections(raw: str) -> ProbeOutput:
    """Cut raw probe output into sections.

    Raises ValueError when it is not probe output at all, and TargetError when it ended early: no
    trailer line, or a section that never closed. Judging what did arrive would report the missing
    sections' facts as absent, so the target is `unknown` instead.
    """
    commands: dict[str, Section] = {}
    files: dict[str, Section] = {}
    missing: set[str] = set()
    current: Section | None = None
    body: list[str] = []
    seen_any = finished = False
    unclosed: str | None = None
    for line in raw.split("\n"):
        if not line.startswith(MARK):
            if current is not None:
                body.append(line)
            continue
        seen_any = True
        kind, _, rest = line[len(MARK):].partition(" ")
        if kind == "end" and current is not None:
            # probe.sh prints "\n" before the end marker: drop that one line break.
            text = "\n".join(body)
            current.text = text[:-1] if text.endswith("\n") else text
            current.rc = int(rest) if rest.strip().lstrip("-").isdigit() else None
            (files if current.kind == "file" else commands)[current.name] = current
            current, body = None, []
        elif kind in ("cmd", "file"):
            if current is not None:
                unclosed = unclosed or current.name
            current, body = Section(kind=kind, name=rest), []
        elif kind == TRAILER:
            finished = current is None
            break
        elif kind == "missing":
            missing.add(rest)
    if not seen_any:
        raise ValueError("the output carries no probe sections (not a readiness probe, or a shell banner only)")
    if not finished or unclosed:
        where = f"section {unclosed or current.name} never closed" if unclosed or current else "no trailer line"
        raise TargetError(f"probe output ended early after {len(raw.encode('utf-8'))} bytes ({where})")
    if "probe" not in commands:
        raise ValueError("the probe output is truncated or garbled (no probe header section)")
    return ProbeOutput(commands=commands, files=files, missing=missing)
