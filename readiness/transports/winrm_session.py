"""pywinrm's HTTP session, made abortable from another thread.

scan.py's watchdog calls `close()` from its own thread when a target's deadline passes; by then the
worker may be blocked in a socket read inside requests (a Receive the host never answers).  Closing
the requests session does not help: it only closes idle pooled connections, not the one in use.  So
the session's pools remember every connection they hand out, and `abort()` shuts their sockets down,
which makes the blocked read return at once (requests raises ConnectionError in the worker).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import weakref
from typing import Any

import requests
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from winrm.transport import Transport as WinRMHTTPTransport


class _Connections:
    """Every live connection the session's pools handed out (weakly held: a discarded one drops out)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.handed_out: weakref.WeakSet[Any] = weakref.WeakSet()

    def add(self, conn: Any) -> None:
        with self.lock:
            self.handed_out.add(conn)

    def shut_down(self) -> None:
        with self.lock:
            conns = list(self.handed_out)
        for conn in conns:
            sock = getattr(conn, "sock", None)
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


def _tracking(base: type[HTTPConnectionPool], connections: _Connections) -> type[HTTPConnectionPool]:
    class TrackingPool(base):  # type: ignore[valid-type, misc]
        def _get_conn(self, timeout: float | None = None) -> Any:
            conn = super()._get_conn(timeout)
            connections.add(conn)
            return conn

    return TrackingPool


class _TrackingAdapter(requests.adapters.HTTPAdapter):
    def __init__(self, connections: _Connections) -> None:
        self._connections = connections
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _tracking(HTTPConnectionPool, self._connections),
                                                   "https": _tracking(HTTPSConnectionPool, self._connections)}


class AbortableTransport(WinRMHTTPTransport):
    """pywinrm's HTTP transport whose session's connections can be shut down from another thread."""

    connections: _Connections

    def _mount(self, session: requests.Session) -> None:
        if not getattr(session, "_readiness_tracked", False):
            adapter = _TrackingAdapter(self.connections)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            session._readiness_tracked = True  # type: ignore[attr-defined]

    def setup_encryption(self, session: requests.Session) -> None:
        self._mount(session)  # before the first request, which opens the connection NTLM binds to
        super().setup_encryption(session)

    def build_session(self) -> requests.Session:
        session = super().build_session()
        self._mount(session)
        return session

    def abort(self) -> None:
        """Shut down every socket of this session: a read blocked in another thread returns now."""
        self.connections.shut_down()


def make_abortable(transport: WinRMHTTPTransport) -> AbortableTransport:
    """Turn the transport pywinrm's Protocol built into an abortable one (same object, same settings)."""
    transport.__class__ = AbortableTransport
    assert isinstance(transport, AbortableTransport)
    transport.connections = _Connections()
    return transport
