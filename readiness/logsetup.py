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


OWN_LOGGERS = ("readiness", "checks")


def configure(level: int) -> None:
    """One redacting stderr handler for this process.

    By default (warnings and errors) it serves only our own loggers: the libraries below keep their silence
    (paramiko and urllib3 log connection failures with tracebacks that the report already explains).  Asked
    for info or debug, the handler sits on the root logger, so their records show too, redacted.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S"))
    handler.addFilter(RedactingFilter())
    handler.readiness = True  # type: ignore[attr-defined]
    verbose = level < logging.WARNING
    for name in ("", *OWN_LOGGERS):
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if getattr(h, "readiness", False)]:
            logger.removeHandler(old)
    if verbose:
        for name in OWN_LOGGERS:
            logging.getLogger(name).setLevel(logging.NOTSET)
        logging.getLogger().addHandler(handler)
        logging.getLogger().setLevel(level)
        return
    for name in OWN_LOGGERS:
        logging.getLogger(name).addHandler(handler)
        logging.getLogger(name).setLevel(level)
