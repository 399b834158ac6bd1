"""The local transport: runs the same probe the remote transports send.

Running the identical sh script through a local `sh -s` (rather than reading
files from Python) is what makes a local scan and an SSH scan of the same
machine produce identical facts.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys

from readiness.errors import TargetError
from readiness.transports.base import CommandResult, Transport

INTERPRETERS = {
    "sh": ["/bin/sh", "-s"],
    "powershell": ["powershell.exe", "-NoProfile", "-NonInteractive", "-Command", "-"],
}


class LocalTransport(Transport):
    """This machine, through a child process."""

    scheme = "local"
    is_local = True

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self._proc: subprocess.Popen[bytes] | None = None
        self.platform = "windows" if sys.platform == "win32" else "posix"

    def run_script(self, script: str, interpreter: str = "sh") -> CommandResult:
        start = self._clock()
        timeout = self.settings.command_timeout_s
        try:
            proc = subprocess.Popen(INTERPRETERS[interpreter], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, env={**os.environ, "LC_ALL": "C"})
        except OSError as exc:
            raise TargetError(f"cannot run {INTERPRETERS[interpreter][0]}: {exc.strerror}") from None
        self._proc = proc
        try:
            stdout, stderr = proc.communicate(script.encode(), timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise TargetError(f"local probe timed out after {timeout:.0f} s") from None
        finally:
            self._proc = None
        limit = self.settings.max_output_bytes
        if len(stdout) > limit:
            raise TargetError(f"probe output exceeds the {limit} byte cap")
        return CommandResult(
            stdout=stdout.decode("utf-8", "replace"),
            stderr=stderr.decode("utf-8", "replace"),
            exit_status=proc.returncode,
            duration_s=self._clock() - start,
        )

    def close(self) -> None:
        """Kill a probe still running (the scan's watchdog calls this when the deadline passes)."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(OSError):
                proc.kill()
