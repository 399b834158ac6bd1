"""The one interface every transport implements.

Modelled on pytest-testinfra's backends: a small class per transport, chosen
by URI scheme, that knows how to run a whole probe script in one round trip
and return its output.  Transports never interpret what they fetch; that is
the collectors' job in checks/.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from readiness.settings import ScanSettings
from readiness.targets import Target


@dataclass
class CommandResult:
    """What one remote or local script run gave back."""

    stdout: str
    stderr: str
    exit_status: int
    duration_s: float


class Transport(ABC):
    """Connects to one target and runs probes on it.

    `platform` tells collectors which probe to send: "posix" for a sh probe,
    "windows" for the PowerShell probe, "vsphere" for API collectors.
    """

    scheme: ClassVar[str]
    platform: str = "posix"
    is_local: ClassVar[bool] = False

    def __init__(self, target: Target, settings: ScanSettings) -> None:
        self.target = target
        self.settings = settings

    def open(self) -> None:  # noqa: B027 - most transports have nothing to open
        """Connect and authenticate; raise TargetError with a clear reason."""

    def close(self) -> None:  # noqa: B027
        """Release the connection; must never raise."""

    @abstractmethod
    def run_script(self, script: str, interpreter: str = "sh") -> CommandResult:
        """Run a whole probe script in one round trip."""

    def __enter__(self) -> Transport:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def _clock() -> float:
        return time.monotonic()
