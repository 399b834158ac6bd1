"""The --proxy flag: a proxy URL on the command line, its password never.

A password in argv is readable by every user of the machine (`ps`, /proc/PID/cmdline) and lands in shell
histories, so a password inside --proxy is refused exactly like one inside a target URI.  The user name
may stay in the URL; the password comes from READINESS_PROXY_PASSWORD or, on a terminal, a prompt
(asked once per run).  It is kept in `NetworkSettings.proxy_password` (never printed: repr=False) and
handed to the network checks without argv: in-process to requests / the CONNECT tunnel locally, and on
an SSH target through curl's config on stdin or wget's environment (checks/linux/netprobe.sh).
"""

from __future__ import annotations

import getpass
import os
import sys
from urllib.parse import urlsplit

from readiness.errors import UsageError

PROXY_PASSWORD_ENV = "READINESS_PROXY_PASSWORD"


def proxy_flag(url: str | None, no_proxy: bool) -> tuple[str | None, str | None]:
    """(--proxy URL checked, its password) from the flags: "" with --no-proxy, None when neither was given."""
    if no_proxy:
        return "", None
    if url is None:
        return None, None
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.password is not None:
        raise UsageError(f"--proxy: a password in the URL would be visible to every user of this machine; "
                         f"remove it and set {PROXY_PASSWORD_ENV} (or answer the prompt)")
    try:
        port = parts.port
    except ValueError:
        raise UsageError(f"--proxy {url!r}: the port is not a number") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--proxy {url!r}: expected http://[USER@]HOST:PORT")
    if port is None:
        raise UsageError(f"--proxy {url!r}: name the port (http://HOST:PORT)")
    password = os.environ.get(PROXY_PASSWORD_ENV) or None
    if parts.username is not None and password is None and sys.stdin is not None and sys.stdin.isatty():
        try:
            password = getpass.getpass(f"Proxy password for {parts.username}@{parts.hostname}: ") or None
        except (EOFError, OSError):
            password = None
    return url, password
