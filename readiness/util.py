"""Small helpers shared by collectors, engine and reporters."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml


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
