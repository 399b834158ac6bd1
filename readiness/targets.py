"""Targets are URIs (`local://`, `ssh://user@host:22`, `winrm://`, `vcenter://`).

As in pytest-testinfra, the scheme picks the transport; unlike it, an unknown
scheme or query key is a usage error instead of being silently dropped, so a
typo never turns into an unverified scan.  Secrets never live in a URI: a
password in the userinfo part is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from readiness.errors import UsageError

#: Query keys each scheme accepts; anything else is a usage error.
QUERY_KEYS: dict[str, frozenset[str]] = {
    "local": frozenset({"name"}),
    "ssh": frozenset({"name", "key", "become", "timeout"}),
    "winrm": frozenset({"name", "transport", "auth", "timeout"}),
    "vcenter": frozenset({"name", "timeout"}),
}

DEFAULT_PORTS = {"ssh": 22, "winrm": 5986, "vcenter": 443}


@dataclass(frozen=True)
class Target:
    """One thing to judge, as named on the command line or in an inventory."""

    scheme: str
    host: str = ""
    user: str = ""
    port: int | None = None
    options: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    roles: tuple[str, ...] = ()
    scenarios: tuple[str, ...] = ()
    name: str = ""

    @property
    def uri(self) -> str:
        """The canonical URI, without secrets, as the report prints it."""
        if self.scheme == "local":
            return "local://"
        auth = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        return f"{self.scheme}://{auth}{self.host}{port}"

    @property
    def display_name(self) -> str:
        return self.name or self.options.get("name") or self.host or "localhost"


def timeout_problem(value: object) -> str | None:
    """Why a per-target timeout (`?timeout=`, `timeout:` in an inventory) is unusable, or None."""
    try:
        seconds = float(str(value))
    except ValueError:
        return f"timeout {value!r} is not a number of seconds"
    if not 0 < seconds < float("inf"):
        return f"timeout must be more than 0 seconds (got {value})"
    return None


def parse_target(text: str) -> Target:
    """Parse a target URI; raise `UsageError` for anything unknown or unsafe."""
    if "://" not in text:
        raise UsageError(f"target {text!r} is not a URI: use local://, ssh://user@host:22, winrm://, vcenter://")
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in QUERY_KEYS:
        known = ", ".join(f"{s}://" for s in QUERY_KEYS)
        raise UsageError(f"unknown target scheme {scheme!r} in {text!r} (known: {known})")
    if parts.password is not None:
        raise UsageError(
            f"target {parts.scheme}://{parts.username}:***@{parts.hostname}: passwords never go in a URI; "
            "use the environment variable or the prompt"
        )
    options: dict[str, str] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key not in QUERY_KEYS[scheme]:
            allowed = ", ".join(sorted(QUERY_KEYS[scheme])) or "none"
            raise UsageError(f"unknown query key {key!r} for {scheme}:// targets (allowed: {allowed})")
        options[key] = value
    if "timeout" in options and (problem := timeout_problem(options["timeout"])):
        raise UsageError(f"target {text!r}: {problem}")
    try:
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"bad port in target {text!r}: {exc}") from None
    if scheme == "local":
        if parts.hostname not in (None, "", "localhost"):
            raise UsageError(f"local:// takes no host (got {parts.hostname!r})")
        return Target(scheme="local", options=options)
    if not parts.hostname:
        raise UsageError(f"target {text!r} names no host")
    return Target(
        scheme=scheme,
        host=parts.hostname,
        user=parts.username or "",
        # ssh: no port in the URI lets ~/.ssh/config (Port) decide, as `ssh host` does; 22 otherwise.
        port=port or (None if scheme == "ssh" else DEFAULT_PORTS.get(scheme)),
        options=options,
    )
