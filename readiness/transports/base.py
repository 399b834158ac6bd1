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

#: Steps before a probe runs that each get the connect timeout: TCP, the protocol handshake (SSH key exchange,
#: TLS), authentication, the request that starts the probe.
CONNECT_STEPS = 4


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
        """Release the connection; must never raise, and must unblock a call stuck in this transport.

        scan.py's watchdog calls it from another thread when the target's deadline passes.
        """

    def deadline_s(self) -> float:
        """The target's whole budget (connect, authenticate, run the probe, read it back), in seconds.

        A connect timeout per step before the probe (CONNECT_STEPS), then the command timeout.  A transport
        with other steps (paging a vCenter) overrides this; an explicit `target_deadline_s` (--deadline) wins.
        """
        if self.settings.target_deadline_s:
            return self.settings.target_deadline_s
        return CONNECT_STEPS * self.settings.connect_timeout_s + self.settings.command_timeout_s

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
