"""Small helpers shared by collectors, engine and reporters."""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from readiness.errors import UsageError


def redact_url(url: str) -> str:
    """Drop user and password from a URL (proxy URLs often carry both)."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def load_yaml(text: str) -> Any:
    """yaml.safe_load with libyaml's C parser when PyYAML has it (several times faster on rule packs)."""
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def bounded(kind: type, low: float, high: float | None = None, low_open: bool = False) -> Any:
    """An argparse `type=` that also checks the range, so `--timeout -5` is a one-line usage error (exit 2).

    NaN and infinities are refused too: `float("nan")` parses, and then compares false to every bound.
    """

    def convert(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid {kind.__name__} value: {text!r}") from None
        if not math.isfinite(value) or (value <= low if low_open else value < low) or (
                high is not None and value > high):
            bound = f"more than {low:g}" if low_open else f"at least {low:g}"
            span = f"{bound} and at most {high:g}" if high is not None else bound
            raise argparse.ArgumentTypeError(f"must be {span} (got {text})")
        return value

    convert.__name__ = kind.__name__  # argparse names the type in its own messages
    return convert


def read_text(path: Path, what: str) -> str:
    """A text input file as UTF-8; a missing, unreadable or non-UTF-8 file is a one-line UsageError."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[:exc.start].count(b"\n") + 1
        raise UsageError(f"{path}:{line}: {what} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} "
                         f"at offset {exc.start})") from None


def read_json(path: Path, what: str) -> Any:
    """A JSON input file; unreadable, not UTF-8 or not JSON is a one-line UsageError naming what it should be."""
    try:
        return json.loads(read_text(path, what))
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path} is not a readiness {what}: invalid JSON ({exc})") from None


def yaml_line(text: str, parts: Iterable[Any]) -> int:
    """The line (1-based) of the YAML node at a JSON path (as jsonschema reports it), or of its nearest parent.

    Only called on an error, so the document is composed a second time, with marks, instead of keeping marks
    on every value of every rule pack that loads fine.
    """
    try:
        node = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return 1
    line = node.start_mark.line + 1 if node is not None else 1
    for part in parts:
        if isinstance(node, yaml.MappingNode):
            node = next((value for key, value in node.value if key.value == str(part)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            node = None
        if node is None:
            break
        line = node.start_mark.line + 1
    return line
