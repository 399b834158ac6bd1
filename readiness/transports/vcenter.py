"""The vCenter transport: one authenticated vSphere API session (pyVmomi).

A vCenter target runs no scripts: its collectors (checks/vsphere/) read the
inventory through the session's PropertyCollector.  This class only connects,
verifies TLS, logs in, counts round trips (the benchmark reports them) and
logs out.  As in Chef Train's vmware transport, the password is never part of
an error message: every failure is rewritten into our own sentence.
"""

from __future__ import annotations

import contextlib
import getpass
import http.client
import os
import ssl
import sys
from typing import Any
from urllib.parse import unquote

from readiness.errors import TargetError
from readiness.transports.base import CommandResult, Transport

PASSWORD_ENV = "READINESS_VCENTER_PASSWORD"


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
        def counted(*args: Any, **kwargs: Any) -> Any:
            self.round_trips += 1
            return method(*args, **kwargs)
        return counted

    def open(self) -> None:
        from pyVim.connect import SmartStubAdapter
        from pyVmomi import vim, vmodl

        if not self.user:
            raise TargetError(f"vcenter://{self.where} names no account: use vcenter://USER@{self.where}")
        context = _tls_context(str(self.settings.ca_bundle) if self.settings.ca_bundle else None,
                               self.settings.insecure)
        # pyVmomi's API version discovery opens its HTTPS connection without any timeout, so a host that is
        # down, or that accepts TCP and never answers, would hang the scan: the same GET first, with a timeout.
        # It also surfaces certificate problems as the ssl error they are.
        probe = http.client.HTTPSConnection(self.target.host, self.target.port, timeout=self.timeout_s,
                                            context=context)
        try:
            probe.request("GET", "/sdk/vimServiceVersions.xml")
            probe.getresponse().read()
        except (OSError, http.client.HTTPException) as exc:
            raise self._connection_error(
                exc, f"cannot reach vCenter {self.where}: no answer within {self.timeout_s:g} s") from None
        finally:
            probe.close()
        self.round_trips += 1
        password = self._password()  # asked only once the host answers
        try:
            # Connecting waits --connect-timeout; an API call may take up to --timeout (a page of 1,000 VMs
            # on a busy vCenter takes seconds).
            stub = SmartStubAdapter(host=self.target.host, port=self.target.port, sslContext=context,
                                    httpConnectionTimeout=max(self.timeout_s, self.settings.command_timeout_s),
                                    connectionPoolTimeout=-1)
            self.round_trips += 1  # the API version discovery
            stub.InvokeMethod = self._count(stub.InvokeMethod)  # property reads go through it too
            self.si = vim.ServiceInstance("ServiceInstance", stub)
            self.content = self.si.RetrieveContent()
            self.content.sessionManager.Login(self.user, password, None)
        except vim.fault.InvalidLogin:
            self.si = None
            raise TargetError(f"vCenter {self.where} refused the login of {self.user!r}: "
                              "wrong user name or password") from None
        except (OSError, http.client.HTTPException) as exc:
            raise self._connection_error(
                exc, f"vCenter {self.where} stopped answering (no reply within the timeout)") from None
        except vmodl.MethodFault as exc:
            raise TargetError(f"vCenter {self.where} refused the session: {exc.msg or type(exc).__name__}") from None
        except Exception as exc:  # e.g. a non-SOAP answer the parser rejects; never echo the request
            raise TargetError(f"{self.where} is not a usable vSphere API endpoint: {type(exc).__name__}") from None

    def _connection_error(self, exc: OSError | http.client.HTTPException, timeout_message: str) -> TargetError:
        """One sentence for what went wrong on the wire: untrusted certificate, TLS, timeout, unreachable, not vSphere.

        The pre-login probe and the login itself fail the same ways; only their timeout wording differs.
        """
        if isinstance(exc, ssl.SSLCertVerificationError):
            return TargetError(self._untrusted(exc))
        if isinstance(exc, ssl.SSLError):
            return TargetError(f"TLS handshake with {self.where} failed: {exc.reason or exc}")
        if isinstance(exc, TimeoutError):
            return TargetError(timeout_message)
        if isinstance(exc, OSError):
            return TargetError(f"cannot reach vCenter {self.where}: {exc.strerror or exc}")
        return TargetError(f"{self.where} does not answer like a vSphere API endpoint ({type(exc).__name__})")

    def close(self) -> None:
        if self.content is not None:
            with contextlib.suppress(Exception):  # logging out of a dead session must never fail a scan
                self.content.sessionManager.Logout()
        self.si = self.content = None

    def run_script(self, script: str, interpreter: str = "sh") -> CommandResult:
        raise TargetError("vcenter:// targets are read through the vSphere API; they run no scripts")
