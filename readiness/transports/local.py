"""The local transport: runs the same probe the remote transports send.

Running the identical sh script through a local `sh -s` (rather than reading
files from Python) is what makes a local scan and an SSH scan of the same
machine produce identical facts.
"""

from __future__ import annotations

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
        self.platform = "windows" if sys.platform == "win32" else "posix"

    def run_script(self, script: str, interpreter: str = "sh") -> CommandResult:
        start = self._clock()
        try:
            proc = subprocess.run(
                INTERPRETERS[interpreter],
                input=script.encode(),
                capture_output=True,
                timeout=self.settings.command_timeout_s,
                env={**os.environ, "LC_ALL": "C"},
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise TargetError(f"local probe timed out after {self.settings.command_timeout_s:.0f} s") from None
        except OSError as exc:
            raise TargetError(f"cannot run {INTERPRETERS[interpreter][0]}: {exc.strerror}") from None
        limit = self.settings.max_output_bytes
        if len(proc.stdout) > limit:
            raise TargetError(f"probe output exceeds the {limit} byte cap")
        return CommandResult(
            stdout=proc.stdout.decode("utf-8", "replace"),
            stderr=proc.stderr.decode("utf-8", "replace"),
            exit_status=proc.returncode,
            duration_s=self._clock() - start,
        )
