"""The vCenter transport: one authenticated vSphere API session (pyVmomi).

A vCenter target runs no scripts: its collectors (checks/vsphere/) read the
inventory through the session's PropertyCollector.  This class only connects,
verifies TLS, logs in, counts round trips (the benchmark reports them) and
logs out.  As in Chef Train's vmware transport, the password is never part of
an error message: every failure is rewritten into our own sentence.

No call may block forever.  pyVmomi's API version discovery (SmartStubAdapter)
opens a connection without any timeout, so the transport fetches
/sdk/vimServiceVersions.xml itself, with a timeout, and picks the version the
way pyVmomi does; every later connection has a socket timeout.  A per-read
timeout does not stop a server that trickles one byte at a time, so a watchdog
also bounds the wall time of each call: a connection checked out longer than the
deadline has its socket shut down, which ends the blocked read at once.
"""

from __future__ import annotations

import contextlib
import getpass
import http.client
import os
import socket
import ssl
import sys
import threading
import time
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import unquote
from xml.parsers.expat import ExpatError

from readiness.errors import TargetError
from readiness.transports.base import CONNECT_STEPS, CommandResult, Transport

PASSWORD_ENV = "READINESS_VCENTER_PASSWORD"
VERSIONS_PATH = "/sdk/vimServiceVersions.xml"
#: The version document is a few hundred bytes; more is not a vSphere endpoint.
VERSIONS_MAX_BYTES = 1 << 20


class Watchdog:
    """Bounds how long one connection may stay checked out for a call; past that its socket is shut down."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.fired = False
        self._timers: dict[int, threading.Timer] = {}

    def arm(self, conn: Any) -> None:
        timer = threading.Timer(self.seconds, self._fire, args=(conn,))
        timer.daemon = True
        self._timers[id(conn)] = timer
        timer.start()

    def disarm(self, conn: Any) -> None:
        timer = self._timers.pop(id(conn), None)
        if timer is not None:
            timer.cancel()

    def cancel_all(self) -> None:
        for timer in list(self._timers.values()):
            timer.cancel()
        self._timers.clear()

    def abort_all(self) -> bool:
        """Shut down every connection still checked out now (a call stuck in another thread); whether any was."""
        stuck = list(self._timers.values())
        for timer in stuck:
            timer.cancel()
            self._fire(*timer.args)
        return bool(stuck)

    def _fire(self, conn: Any) -> None:
        # a live timer holds its connection, so no other connection can have its id meanwhile
        self._timers.pop(id(conn), None)
        sock = getattr(conn, "sock", None)
        if sock is None:  # closed already (an error path that never returned it)
            return
        self.fired = True
        with contextlib.suppress(OSError):  # the plain socket's shutdown wakes a read blocked in another thread
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


def supported_version(body: bytes) -> str | None:
    """The most preferred API version pyVmomi knows that vimServiceVersions.xml offers (as pyVim.connect does)."""
    from pyVmomi.VmomiSupport import GetServiceVersions, versionIdMap

    try:
        root = ET.fromstring(body)
    except (ET.ParseError, LookupError, ValueError):
        return None
    if root.tag != "namespaces":
        return None
    offered = {v.text for ns in root.findall("namespace")
               for v in [ns.find("version"), *ns.findall("priorVersions/version")] if v is not None}
    for version in GetServiceVersions("vim25"):
        if versionIdMap.get(version) in offered:
            return version
    return None


def _tls_context(ca_bundle: str | None, insecure: bool) -> ssl.SSLContext:
    """Verified TLS by default; --insecure is the only way to turn it off."""
    if insecure:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    try:
        return ssl.create_default_context(cafile=ca_bundle)
    except (OSError, ssl.SSLError) as exc:
        raise TargetError(f"cannot use CA bundle {ca_bundle}: {getattr(exc, 'strerror', None) or exc}") from None


class VCenterTransport(Transport):
    """A vCenter Server (or standalone ESXi host) over the vSphere SOAP API."""

    scheme = "vcenter"
    platform = "vsphere"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.si: Any = None
        self.content: Any = None
        self.user = unquote(self.target.user)
        self.round_trips = 0
        timeout = self.target.options.get("timeout")
        try:
            self.timeout_s = float(timeout) if timeout else self.settings.connect_timeout_s
        except ValueError:
            raise TargetError(f"timeout={timeout!r} is not a number of seconds") from None
        # Connecting waits --connect-timeout; an API call may take up to --timeout (a page of 1,000 VMs on a busy
        # vCenter takes seconds), and no call longer.
        self.call_timeout_s = max(self.timeout_s, self.settings.command_timeout_s)
        self.watchdog = Watchdog(self.call_timeout_s)

    @property
    def where(self) -> str:
        return f"{self.target.host}:{self.target.port}"

    def _password(self) -> str:
        password = os.environ.get(PASSWORD_ENV)
        if password:
            return password
        if sys.stdin is not None and sys.stdin.isatty():
            return getpass.getpass(f"vCenter password for {self.user}@{self.where}: ")
        raise TargetError(f"no password for {self.user}@{self.where}: set {PASSWORD_ENV} "
                          "(or run in a terminal to be prompted)")

    def _untrusted(self, exc: ssl.SSLCertVerificationError) -> str:
        return (f"the TLS certificate of {self.where} is not trusted ({exc.verify_message}): pass --ca-bundle "
                "PEM with the CA that signed it (--insecure turns verification off and is recorded)")

    def count(self) -> None:
        """Record one API round trip made outside pyVmomi's method calls (the raw inventory pages)."""
        self.round_trips += 1

    def _count(self, method: Any) -> Any:
        """Count a pyVmomi call; what it raises besides a server fault is the answer's doing, never ours.

        pyVmomi lets the parser's errors through as they are (ExpatError, LookupError for an unknown encoding,
        a cut connection's OSError); they become a TargetError with the reason, so the target is `unknown`.
        """
        from pyVmomi import vmodl

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.round_trips += 1
            try:
                return method(*args, **kwargs)
            except vmodl.MethodFault:
                raise
            except Exception as exc:
                raise TargetError(self.wire_error(exc)) from None
        return counted

    def open(self) -> None:
        from pyVmomi import SoapStubAdapter, vim, vmodl

        if not self.user:
            raise TargetError(f"vcenter://{self.where} names no account: use vcenter://USER@{self.where}")
        context = _tls_context(str(self.settings.ca_bundle) if self.settings.ca_bundle else None,
                               self.settings.insecure)
        version = self._discover(context)
        password = self._password()  # asked only once the host answers
        try:
            stub = SoapStubAdapter(host=self.target.host, port=self.target.port, version=version, sslContext=context,
                                   httpConnectionTimeout=self.call_timeout_s, connectionPoolTimeout=-1)
            self._guard(stub)
            self.si = vim.ServiceInstance("ServiceInstance", stub)
            self.content = self.si.RetrieveContent()
            self.content.sessionManager.Login(self.user, password, None)
        except TargetError:
            raise
        except vim.fault.InvalidLogin:
            self.si = None
            raise TargetError(f"vCenter {self.where} refused the login of {self.user!r}: "
                              "wrong user name or password") from None
        except (OSError, http.client.HTTPException, ExpatError) as exc:
            raise TargetError(self.wire_error(exc)) from None
        except vmodl.MethodFault as exc:
            raise TargetError(f"vCenter {self.where} refused the session: {exc.msg or type(exc).__name__}") from None
        except Exception as exc:  # e.g. a non-SOAP answer the parser rejects; never echo the request
            if self.watchdog.fired:
                raise TargetError(self.wire_error(exc)) from None
            raise TargetError(f"{self.where} is not a usable vSphere API endpoint: {type(exc).__name__}") from None

    def _discover(self, context: ssl.SSLContext) -> str:
        """GET vimServiceVersions.xml with the connect timeout and the watchdog; the API version to speak.

        It also surfaces certificate problems as the ssl error they are, before any password is asked for.
        """
        probe = http.client.HTTPSConnection(self.target.host, self.target.port, timeout=self.timeout_s,
                                            context=context)
        watchdog = Watchdog(self.timeout_s)
        watchdog.arm(probe)
        start = time.monotonic()
        try:
            probe.request("GET", VERSIONS_PATH)
            response = probe.getresponse()
            body = response.read(VERSIONS_MAX_BYTES + 1)
        except (OSError, http.client.HTTPException) as exc:
            if watchdog.fired or time.monotonic() - start >= self.timeout_s:
                raise TargetError(f"cannot reach vCenter {self.where}: no answer within {self.timeout_s:g} s") from None
            raise TargetError(self.wire_error(exc, f"cannot reach vCenter {self.where}: no answer within "
                                                   f"{self.timeout_s:g} s")) from None
        finally:
            watchdog.cancel_all()
            probe.close()
        if watchdog.fired:  # shut down mid-answer: what was read is a fragment
            raise TargetError(f"cannot reach vCenter {self.where}: no answer within {self.timeout_s:g} s")
        self.round_trips += 1
        version = supported_version(body) if response.status == 200 and len(body) <= VERSIONS_MAX_BYTES else None
        if version is None:
            raise TargetError(f"{self.where} does not answer like a vSphere API endpoint "
                              f"(GET {VERSIONS_PATH}: HTTP {response.status}, no API version this tool speaks)")
        return version

    def _guard(self, stub: Any) -> None:
        """Count every API call and put each connection the stub checks out under the watchdog."""
        stub.InvokeMethod = self._count(stub.InvokeMethod)  # property reads go through it too
        get, give_back = stub.GetConnection, stub.ReturnConnection

        def checked_out() -> Any:
            conn = get()
            self.watchdog.arm(conn)
            return conn

        def returned(conn: Any) -> None:
            self.watchdog.disarm(conn)
            give_back(conn)

        stub.GetConnection, stub.ReturnConnection = checked_out, returned

    def wire_error(self, exc: BaseException, timeout_message: str | None = None) -> str:
        """One sentence for a call that broke on the wire (the watchdog, a timeout, a reset, a cut answer)."""
        stalled = timeout_message or (f"vCenter {self.where} stopped answering (no complete answer within "
                                      f"{self.call_timeout_s:g} s)")
        if self.watchdog.fired:
            return stalled
        if isinstance(exc, (OSError, http.client.HTTPException)):
            return self._connection_error(exc, stalled)
        return f"vCenter {self.where} sent an answer that cannot be read ({type(exc).__name__})"

    def _connection_error(self, exc: OSError | http.client.HTTPException, timeout_message: str) -> str:
        """One sentence for what went wrong on the wire: untrusted certificate, TLS, timeout, unreachable, not vSphere.

        The pre-login probe, the login and the inventory calls fail the same ways; only the timeout wording differs.
        """
        if isinstance(exc, ssl.SSLCertVerificationError):
            return self._untrusted(exc)
        if isinstance(exc, TimeoutError):  # before SSLError: a handshake that times out is a timeout
            return timeout_message
        if isinstance(exc, ssl.SSLError):
            return f"TLS handshake with {self.where} failed: {exc.reason or exc}"
        if isinstance(exc, OSError):
            return f"cannot reach vCenter {self.where}: {exc.strerror or exc}"
        return f"{self.where} does not answer like a vSphere API endpoint ({type(exc).__name__})"

    def deadline_s(self) -> float:
        """The whole scan of a vCenter: connecting, then several calls (login, pages, privileges, licences).

        Each call is bounded by the watchdog; the overall budget allows a handful of slow calls on top of the
        connection steps, unless --deadline sets it.
        """
        if self.settings.target_deadline_s:
            return self.settings.target_deadline_s
        return CONNECT_STEPS * self.timeout_s + 5 * self.call_timeout_s

    def close(self) -> None:
        if self.watchdog.abort_all():  # called from the scan's deadline while a call is stuck: no logout
            self.si = self.content = None
            return
        if self.content is not None:
            with contextlib.suppress(Exception):  # logging out of a dead session must never fail a scan
                self.content.sessionManager.Logout()
        self.si = self.content = None

    def run_script(self, script: str, interpreter: str = "sh") -> CommandResult:
        raise TargetError("vcenter:// targets are read through the vSphere API; they run no scripts")
