"""Errors that map to the report contract's exit codes.

A `UsageError` is bad input from the user (exit 2, one line, no traceback); a
`TargetError` is one target that could not be reached or read, which never
aborts a scan: the target is reported `unknown` with the message.
"""


class ReadinessError(Exception):
    """Base class for every error the CLI turns into a clean message."""


class UsageError(ReadinessError):
    """Bad flag, unknown scheme, unreadable inventory, invalid rule or facts file: exit 2."""


class TargetError(ReadinessError):
    """One target could not be collected (unreachable, auth failure, garbage output)."""


class RuleError(ReadinessError):
    """A rule could not be judged on these facts; the finding becomes status `error`."""
