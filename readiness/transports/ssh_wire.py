"""What a peer says before paramiko takes over: the SSH version line, read by us so a failure says what happened.

paramiko reports a web server on port 22, a tarpit and a dead daemon all as "Error reading SSH protocol
banner" (or a bare EOFError).  Reading the first line ourselves (within the connect timeout) tells them
apart: a peer that sent non-SSH bytes is "not an SSH server (sent …)", one that accepted and said nothing
is "no SSH banner", one that closed at once is named as such.  The bytes read are handed back to paramiko
through `Replay`, so its own banner parsing sees the stream unchanged.
"""

from __future__ import annotations

import time
from typing import Any

from readiness.errors import TargetError

#: OpenSSH allows other lines before the version line, up to this much.
MAX_PREAMBLE = 8192


def excerpt(data: bytes, limit: int = 60) -> str:
    """Bytes from a peer as a short printable quote (never the whole thing)."""
    text = data[:limit].decode("ascii", "backslashreplace")
    return repr(text + ("…" if len(data) > limit else ""))


def read_banner(sock: Any, timeout: float, where: str) -> bytes:
    """Read until the peer's `SSH-` version line is complete; TargetError saying why it is not an SSH server."""
    deadline = time.monotonic() + timeout
    buf = b""
    while True:
        for line in buf.split(b"\n")[:-1]:
            if line.startswith(b"SSH-"):
                return buf
        if len(buf) > MAX_PREAMBLE:
            raise TargetError(f"{where}: not an SSH server (sent {excerpt(buf)})")
        remaining = deadline - time.monotonic()
        try:
            if remaining <= 0:
                raise TimeoutError
            sock.settimeout(remaining)
            chunk = sock.recv(4096)
        except TimeoutError:
            if buf.startswith(b"SSH-"):
                raise TargetError(f"{where}: SSH negotiation stalled: the version line never ended "
                                  f"(sent {excerpt(buf)})") from None
            if buf:
                raise TargetError(f"{where}: not an SSH server (sent {excerpt(buf)}, then nothing)") from None
            raise TargetError(f"{where}: no SSH banner within {timeout:g} s (the port answers TCP but never speaks "
                              "SSH)") from None
        except OSError as exc:
            raise TargetError(f"{where}: connection lost before the SSH banner: {exc.strerror or exc}") from None
        if not chunk:
            if buf:
                raise TargetError(f"{where}: not an SSH server (sent {excerpt(buf)} and closed the connection)")
            raise TargetError(f"{where}: closed the connection without a word (not an SSH server, or it turns "
                              "clients away: MaxStartups, TCP wrappers, a full connection table)")
        buf += chunk


class Replay:
    """A socket (or paramiko Channel) that first returns bytes already read from it."""

    def __init__(self, sock: Any, prefix: bytes) -> None:
        self._sock = sock
        self._prefix = prefix

    def recv(self, n: int) -> bytes:
        if self._prefix:
            head, self._prefix = self._prefix[:n], self._prefix[n:]
            return head
        return self._sock.recv(n)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)
