"""`--log-level` / `-v`: what the tool does, on standard error, with secrets redacted.

Reports go to standard output or files; the log never does, so a pipe of
`json:-` stays parseable.  Every record passes one filter that masks the
values of the secret environment variables (passwords, key passphrases),
credentials in URLs (`user:password@`) and `password=`-style pairs, in our
messages and in those of the libraries below us (paramiko, urllib3, pywinrm).
"""

from __future__ import annotations

import logging
import os
import re
import sys

LEVELS = ("error", "warning", "info", "debug")
SECRET_ENV = re.compile(r"(PASSWORD|PASSPHRASE|SECRET|TOKEN)", re.IGNORECASE)
URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/\s@:]+:[^/\s@]*@", re.IGNORECASE)
KEY_VALUE = re.compile(r"(?P<key>\b(?:password|passwd|passphrase|secret|token)\b\s*[=:]\s*)(?P<q>['\"]?)[^\s'\",;&]+",
                       re.IGNORECASE)
MASK = "***"


class RedactingFilter(logging.Filter):
    """Masks secrets in the fully formatted message (arguments included)."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        super().__init__()
        env = os.environ if environ is None else environ
        self.values = sorted({v for k, v in env.items() if SECRET_ENV.search(k) and len(v) >= 3}, key=len,
                             reverse=True)

    def redact(self, text: str) -> str:
        for value in self.values:
            text = text.replace(value, MASK)
        text = URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}{MASK}@", text)
        return KEY_VALUE.sub(lambda m: f"{m['key']}{m['q']}{MASK}", text)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


def level_from(name: str | None, verbose: int) -> int:
    """--log-level wins; otherwise -v is info and -vv debug; the default says only warnings and errors."""
    if name:
        return getattr(logging, name.upper())  # type: ignore[no-any-return]
    return {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)


def configure(level: int) -> None:
    """One stderr handler on the root logger, redacting, for this process."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "readiness", False)]:
        root.removeHandler(old)
    handler.readiness = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
