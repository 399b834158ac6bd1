"""Hostile SSH peers on loopback: servers that break the protocol in the ways that used to hang a worker.

Each is a real listener on 127.x (paramiko's server side, or a raw socket where the peer is not SSH at
all), so the client under test runs its real code path:

- `stall-exec`: authenticates, opens the session, then never answers the exec request;
- `tiny-window`: accepts the exec but advertises a 1 KiB window and never reads stdin;
- `truncated`: reads the probe, sends the first bytes of `output` and closes the channel without an exit status;
- `junk`: answers the exec with `output` (not probe output) and exit status 0;
- `garbage-after-banner`: a valid SSH banner, then random bytes;
- `banner-then-silence`: a valid SSH banner, then nothing;
- `not-ssh`: an HTTP error page, then it closes the connection;
- `backlog`: listens with a backlog it never drains (connections queue, then SYNs are dropped);
- `silent`: accepts the connection and never says a word (a tarpit, a hung daemon).

Any user and password (or key) is accepted where authentication happens; the host key is generated here,
and `known_hosts_line()` gives the line that trusts it.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from dataclasses import dataclass, field

import paramiko

PARAMIKO_KINDS = ("stall-exec", "tiny-window", "truncated", "junk")
RAW_KINDS = ("garbage-after-banner", "banner-then-silence", "not-ssh", "backlog", "silent")
KINDS = PARAMIKO_KINDS + RAW_KINDS
BANNER = b"SSH-2.0-OpenSSH_5.3\r\n"
#: After the banner: a first "packet" whose length (7) fits no cipher block, so a client fails at once rather
#: than wait for the rest of a plausible packet (random bytes would make the outcome depend on luck).
GARBAGE = b"\x00\x00\x00\x07" + b"<html>this is not an SSH packet</html>\r\n" * 100
_host_key: paramiko.RSAKey | None = None
# The server side's own failures (a client that hangs up) are expected here: not on stderr.
logging.getLogger("paramiko").addHandler(logging.NullHandler())
_key_lock = threading.Lock()


def host_key() -> paramiko.RSAKey:
    """One RSA host key for every hostile peer of the run (generating one costs ~0.1 s)."""
    global _host_key
    with _key_lock:
        if _host_key is None:
            _host_key = paramiko.RSAKey.generate(2048)
        return _host_key


class _Interface(paramiko.ServerInterface):
    def __init__(self, peer: HostilePeer) -> None:
        self.peer = peer

    def get_allowed_auths(self, username: str) -> str:
        return "password,publickey"

    def check_auth_password(self, username: str, password: str) -> int:
        return paramiko.AUTH_SUCCESSFUL

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        return paramiko.AUTH_SUCCESSFUL

    def check_channel_request(self, kind: str, chanid: int) -> int:
        return paramiko.OPEN_SUCCEEDED if kind == "session" else paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        self.peer.exec_requested.set()
        if self.peer.kind == "stall-exec":
            self.peer.stopped.wait()  # the transport thread blocks here: the request is never answered
            return False
        return True


@dataclass
class HostilePeer:
    """One hostile listener on `host`:`port` (a free port when 0)."""

    kind: str
    host: str = "127.0.0.1"
    port: int = 0
    output: bytes = b""
    exec_requested: threading.Event = field(default_factory=threading.Event)
    stopped: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown hostile peer {self.kind!r} (known: {', '.join(KINDS)})")
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((self.host, self.port))
        self.port = self._sock.getsockname()[1]
        self._held: list[object] = []
        if self.kind == "backlog":
            self._sock.listen(0)  # never accepted: the kernel queue fills, then connections time out
            self._fill_backlog()
            return
        self._sock.listen(128)
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def known_hosts_line(self) -> str:
        key = host_key()
        return f"[{self.host}]:{self.port} {key.get_name()} {key.get_base64()}\n"

    def _fill_backlog(self) -> None:
        """Queue connections until the kernel stops completing them, so the next client gets no answer."""
        for _ in range(8):
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError, OSError):
                filler.connect((self.host, self.port))
            self._held.append(filler)

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self._held.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            if self.kind in RAW_KINDS:
                self._raw(conn)
            else:
                self._ssh(conn)
        except (OSError, EOFError, paramiko.SSHException):
            pass

    def _raw(self, conn: socket.socket) -> None:
        if self.kind == "not-ssh":
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\n\r\n<html>bad request</html>\r\n")
            conn.close()
            return
        if self.kind != "silent":
            conn.sendall(BANNER)
        if self.kind == "garbage-after-banner":
            conn.sendall(GARBAGE)
        self.stopped.wait()

    def _ssh(self, conn: socket.socket) -> None:
        window = 1024 if self.kind == "tiny-window" else paramiko.common.DEFAULT_WINDOW_SIZE
        transport = paramiko.Transport(conn, default_window_size=window, default_max_packet_size=1024
                                       if self.kind == "tiny-window" else paramiko.common.DEFAULT_MAX_PACKET_SIZE)
        self._held.append(transport)
        transport.add_server_key(host_key())
        transport.start_server(server=_Interface(self))
        channel = transport.accept(30)
        if channel is None:
            return
        if self.kind in ("truncated", "junk"):
            channel.settimeout(30)
            while channel.recv(65536):  # the whole probe, as a shell would read it
                pass
            channel.sendall(self.output)
            if self.kind == "junk":
                channel.send_exit_status(0)
            channel.close()
        self.stopped.wait()
        transport.close()

    def close(self) -> None:
        self.stopped.set()
        with contextlib.suppress(OSError):
            self._sock.close()
        for held in self._held:
            with contextlib.suppress(Exception):
                held.close()  # type: ignore[attr-defined]
