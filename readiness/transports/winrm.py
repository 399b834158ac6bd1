"""The WinRM transport: one WS-Management shell per target, the whole probe in one command.

Built on pywinrm's `Protocol` (open_shell / run_command / send_command_input /
get_command_output_raw / cleanup_command / close_shell) rather than its
`Session.run_ps`, because `run_ps` puts the whole script on the command line as
-EncodedCommand and cmd.exe stops at 8191 characters: our probe is far
longer.  Instead a tiny fixed bootstrap goes on the command line and the
probe itself travels base64-encoded over the command's stdin, in chunks that
fit the 150 KB envelope of WinRM 2.0 (Windows Server 2008 R2).  The bootstrap reads
stdin through `$input`: powershell.exe 2.0 drains redirected stdin into the
pipeline whatever the command is, so `[Console]::In` finds nothing there.

Deadlines: every HTTP request waits at most what is left of the probe's
`--timeout` (the connect timeout while opening), so a host that never answers
a Receive, or accepts TCP and never answers TLS, ends the target as unknown
on time; once a host has stopped answering, close() sends nothing more.

Security defaults: HTTPS on 5986 with certificate validation (`--ca-bundle`
adds a private CA, `--insecure` turns it off and the report says so); plain
HTTP only with `?transport=http`, and then only with an auth method that
encrypts the messages (NTLM, Kerberos, CredSSP), never Basic.  WinRM traffic
never goes through the internet proxy of the network checks.  The password
comes from READINESS_WINRM_PASSWORD or a prompt on a terminal, never argv.
"""

from __future__ import annotations

import base64
import contextlib
import getpass
import os
import socket
import sys
import threading
import xml.etree.ElementTree as ET
from typing import Any

import requests
from winrm.exceptions import (
    InvalidCredentialsError,
    WinRMError,
    WinRMOperationTimeoutError,
    WinRMTransportError,
    WSManFaultError,
)
from winrm.protocol import Protocol

from readiness.errors import TargetError, UsageError
from readiness.transports.base import CommandResult, Transport
from readiness.transports.winrm_session import AbortableTransport, make_abortable

PASSWORD_ENV = "READINESS_WINRM_PASSWORD"
AUTH_METHODS = ("ntlm", "kerberos", "credssp", "basic")
#: Auth methods that give WS-Management message encryption on plain HTTP (MS-WSMV 2.2.9.1).
ENCRYPTING = frozenset({"ntlm", "kerberos", "credssp"})
DEFAULT_HTTP_PORT, DEFAULT_HTTPS_PORT = 5985, 5986
#: Raw bytes of stdin per Send message: base64 in the envelope makes ~43 KB, well under WinRM 2.0's 150 KB.
STDIN_CHUNK = 32 * 1024
#: Seconds one Receive may block on the server before it answers "no output yet" (and we ask again).
OPERATION_TIMEOUT_S = 20
#: Seconds the client waits past OperationTimeout for the answer (MS-WSMV 3.2.4.1: OperationTimeout +
#: NetworkDelayms, 5000 by default; pywinrm requires read timeout > operation timeout).
READ_SLACK_S = 10
#: Seconds a cleanup request (Signal, Delete) may wait: tidying up must not hold a finished target.
CLEANUP_TIMEOUT_S = 5.0

#: Runs on the target: read the base64 probe from stdin, decode it as UTF-8, run it as a script block.
#: stdin is read as `$input` (the lines powershell.exe pipes in), the one way that works on 2.0, where
#: the console host drains redirected stdin into the pipeline before any command can read it (Ansible's
#: bootstrap_wrapper.ps1 reads its payload the same way).  It is fixed text (no value is ever spliced
#: into it), PowerShell 2.0 compatible (checked by tests/test_ps_grammar.py), and short enough for
#: cmd.exe once UTF-16LE + base64 encoded (-EncodedCommand).
BOOTSTRAP = (
    "$ProgressPreference='SilentlyContinue';"
    "$readiness_b64=@($input) -join '';"
    "$readiness_src=[Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($readiness_b64));"
    "& ([ScriptBlock]::Create($readiness_src))"
)
POWERSHELL = "powershell.exe"
POWERSHELL_ARGS = ("-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-EncodedCommand")

_PROMPT_LOCK = threading.Lock()
_PROMPTED: dict[str, str] = {}


def encoded_command(script: str) -> str:
    """PowerShell's -EncodedCommand form: base64 of UTF-16LE."""
    return base64.b64encode(script.encode("utf-16-le")).decode("ascii")


def clean_clixml(stderr: str) -> str:
    """Error text from PowerShell's `#< CLIXML` stderr serialisation (what -EncodedCommand emits)."""
    text = stderr.strip()
    if not text.startswith("#< CLIXML"):
        return text
    try:
        root = ET.fromstring(text[len("#< CLIXML"):].strip())
    except ET.ParseError:
        return text
    lines = [(node.text or "") for node in root.iter() if node.tag.endswith("}S") and node.get("S") == "Error"]
    cleaned = "".join(lines).replace("_x000D__x000A_", "\n").replace("_x000A_", "\n")
    return " ".join(cleaned.split())


def winrm_password(user: str, host: str, auth: str) -> str | None:
    """The password from the environment, or from a prompt when a person is at a terminal.

    Kerberos may run on the ticket cache, so it never prompts.  Prompts are
    serialised and remembered per user: an estate scan of 300 machines with one
    domain account asks once, not 300 times from 16 threads.
    """
    password = os.environ.get(PASSWORD_ENV)
    if password is not None:
        return password
    if auth == "kerberos":
        return None
    with _PROMPT_LOCK:
        if user in _PROMPTED:
            return _PROMPTED[user]
        if not (sys.stdin and sys.stdin.isatty()):
            raise TargetError(f"no WinRM password for {user}@{host}: set {PASSWORD_ENV} "
                              "(no terminal to prompt on)")
        try:
            _PROMPTED[user] = getpass.getpass(f"WinRM password for {user} (used for {host} and later targets): ")
        except (EOFError, KeyboardInterrupt):
            raise TargetError(f"no WinRM password for {user}@{host}: prompt cancelled") from None
        return _PROMPTED[user]


class WinRMTransport(Transport):
    """A Windows machine over WS-Management (pywinrm)."""

    scheme = "winrm"
    platform = "windows"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        options = self.target.options
        self.auth = (options.get("auth") or "ntlm").lower()
        if self.auth not in AUTH_METHODS:
            raise UsageError(f"winrm://{self.target.host}: unknown auth {self.auth!r} "
                             f"(known: {', '.join(AUTH_METHODS)})")
        self.http = (options.get("transport") or "https").lower()
        if self.http not in ("https", "http"):
            raise UsageError(f"winrm://{self.target.host}: transport must be https or http, not {self.http!r}")
        if self.http == "http" and self.auth not in ENCRYPTING:
            raise UsageError(f"winrm://{self.target.host}: {self.auth} over plain HTTP would send the password and "
                             "every fact in clear; use https, or ntlm/kerberos/credssp (they encrypt the messages)")
        port = self.target.port or DEFAULT_HTTPS_PORT
        if self.http == "http" and port == DEFAULT_HTTPS_PORT:
            port = DEFAULT_HTTP_PORT  # ?transport=http without a port means WinRM's HTTP listener
        self.port = port
        self.endpoint = f"{self.http}://{self._url_host()}:{port}/wsman"
        #: What the report must record about how this target was reached.
        self.notes: list[str] = []
        if self.http == "http":
            self.notes.append(f"WinRM over plain HTTP (port {port}, ?transport=http); "
                              f"messages encrypted by {self.auth}")
        elif self.settings.insecure:
            self.notes.append("WinRM TLS certificate not verified (--insecure)")
        self._protocol: Protocol | None = None
        self._shell: str | None = None
        #: A request went unanswered: the host is not asked anything more (close() sends no Delete).
        self._silent = False
        self._busy = False  # a request is in flight (close() from another thread must cut it, not join it)
        self._closed = False  # close() ran: a worker still holding the protocol must not send anything more
        self._close_lock = threading.Lock()

    def _url_host(self) -> str:
        host = self.target.host
        return f"[{host}]" if ":" in host else host

    # ------------------------------------------------------------------ connection

    def open(self) -> None:
        """Check the port answers, authenticate and open the one shell of this target."""
        try:
            with socket.create_connection((self.target.host, self.port), timeout=self.settings.connect_timeout_s):
                pass
        except OSError as exc:
            reason = "timed out" if isinstance(exc, socket.timeout) else (exc.strerror or str(exc))
            raise TargetError(f"cannot connect to WinRM at {self.target.host}:{self.port}: {reason}") from None
        if not self.target.user:
            raise TargetError(f"winrm://{self.target.host}: no user in the URI (winrm://user@host)")
        password = winrm_password(self.target.user, self.target.host, self.auth)
        try:
            self._protocol = Protocol(
                endpoint=self.endpoint,
                transport=self.auth,  # type: ignore[arg-type]
                username=self.target.user,
                password=password,
                server_cert_validation="ignore" if self.settings.insecure else "validate",
                ca_trust_path=str(self.settings.ca_bundle) if self.settings.ca_bundle else None,  # type: ignore[arg-type]
                read_timeout_sec=OPERATION_TIMEOUT_S + READ_SLACK_S,
                operation_timeout_sec=OPERATION_TIMEOUT_S,
                message_encryption="always" if self.http == "http" else "auto",
                proxy=None,  # LAN management traffic never goes through the internet proxy
            )
            make_abortable(self._protocol.transport)  # so close() from the watchdog's thread unblocks a read
            # TLS handshake, authentication and Create: a host that accepts TCP and then says nothing
            # must not hold the target longer than the connect timeout.
            self._wait_at_most(self._protocol, self.settings.connect_timeout_s)
            self._shell = self._call(self._protocol.open_shell, noprofile=True)
        except TargetError:
            self.close()
            raise
        except WinRMError as exc:  # refused arguments (e.g. no password for a method that needs one)
            self.close()
            raise TargetError(f"WinRM {self.auth} at {self.endpoint}: {exc}") from None

    def close(self) -> None:
        """Delete the shell and drop the session; never raises, never waits long, unblocks a stuck call.

        Called from another thread (scan.py's watchdog) while a request is in flight, it shuts that
        request's socket down and leaves the rest to the worker.  Once a request has gone unanswered,
        the host is not asked anything more (its WinRM service ends an abandoned shell after its idle
        timeout); otherwise Delete gets CLEANUP_TIMEOUT_S.
        """
        with self._close_lock:
            protocol, shell = self._protocol, self._shell
            if protocol is None:
                return
            if self._busy:
                self._silent = True
                abortable(protocol).abort()
                return
            self._protocol, self._shell, self._closed = None, None, True
        try:
            if shell and not self._silent:
                self._wait_at_most(protocol, CLEANUP_TIMEOUT_S)
                protocol.close_shell(shell)
        except Exception:
            pass
        finally:
            protocol.transport.close_session()

    @staticmethod
    def _wait_at_most(protocol: Protocol, seconds: float) -> None:
        """Bound the next requests: the HTTP read timeout, and the Receive's OperationTimeout under it."""
        seconds = max(0.2, seconds)
        protocol.transport.read_timeout_sec = min(OPERATION_TIMEOUT_S + READ_SLACK_S, seconds)  # type: ignore[assignment]
        # the server answers "no output yet" after OperationTimeout: it must come before our read timeout
        protocol.operation_timeout_sec = max(1, min(OPERATION_TIMEOUT_S, int(seconds) - 1))

    def _call(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        """Run one WS-Management operation, turning every failure into one clear TargetError."""
        where = f"WinRM {self.endpoint}"
        with self._close_lock:
            if self._silent or self._closed:  # the host stopped answering, or the watchdog closed us
                raise _Unanswered(f"{where}: the connection was closed")
            self._busy = True
        try:
            return func(*args, **kwargs)
        except InvalidCredentialsError:
            raise TargetError(f"{where}: authentication failed (HTTP 401) for {self.target.user} "
                              f"with {self.auth}") from None
        except WSManFaultError as exc:
            code = f" (WS-Management fault {exc.wsman_fault_code})" if exc.wsman_fault_code else ""
            raise TargetError(f"{where}: {' '.join(str(exc.reason).split())}{code}") from None
        except WinRMTransportError as exc:
            raise TargetError(f"{where}: HTTP {exc.code} from the server") from None
        except requests.exceptions.SSLError as exc:
            hint = " (give the issuing CA with --ca-bundle)" if "CERTIFICATE_VERIFY_FAILED" in str(exc) else ""
            raise TargetError(f"{where}: TLS failed: {_root_cause(exc)}{hint}") from None
        except requests.exceptions.Timeout:
            self._silent = True
            waited = self._protocol.transport.read_timeout_sec if self._protocol else 0
            phase = "a request" if self._shell else \
                "the TLS handshake or first request" if self.http == "https" else "the first request"
            raise _Unanswered(f"{where}: no answer to {phase} within {waited:.0f} s") from None
        except requests.exceptions.ConnectionError as exc:
            raise TargetError(f"{where}: connection failed: {_root_cause(exc)}") from None
        except (ET.ParseError, StopIteration, ValueError) as exc:
            raise TargetError(f"{where}: not a WS-Management answer ({type(exc).__name__})") from None
        except WinRMOperationTimeoutError:
            raise
        except WinRMError as exc:  # e.g. pykerberos / requests-credssp not installed
            hint = f" (pip install 'readiness[winrm-{self.auth}]')" if "not installed" in str(exc) else ""
            raise TargetError(f"{where}: {' '.join(str(exc).split())}{hint}") from None
        finally:
            self._busy = False

    # ------------------------------------------------------------------ the probe

    def run_script(self, script: str, interpreter: str = "powershell") -> CommandResult:
        """Run a PowerShell script: bootstrap on the command line, the script over stdin."""
        if interpreter != "powershell":
            raise TargetError(f"the winrm transport runs PowerShell, not {interpreter}")
        if self._protocol is None or self._shell is None:
            raise TargetError("WinRM transport is not open")
        protocol, shell = self._protocol, self._shell
        start = self._clock()
        deadline = start + self.settings.command_timeout_s
        try:
            self._wait_at_most(protocol, deadline - self._clock())
            args = [*POWERSHELL_ARGS, encoded_command(BOOTSTRAP)]
            command = self._call(protocol.run_command, shell, POWERSHELL, args, console_mode_stdin=False)
            try:
                payload = base64.b64encode(script.encode("utf-8")) + b"\r\n"
                for offset in range(0, len(payload), STDIN_CHUNK):
                    self._wait_at_most(protocol, deadline - self._clock())
                    self._call(protocol.send_command_input, shell, command, payload[offset:offset + STDIN_CHUNK],
                               end=offset + STDIN_CHUNK >= len(payload))
                stdout, stderr, code = self._receive(protocol, shell, command, deadline)
            finally:
                if not self._silent:
                    with contextlib.suppress(Exception):  # the result (or the error being raised) matters more
                        self._wait_at_most(protocol, CLEANUP_TIMEOUT_S)
                        protocol.cleanup_command(shell, command)
        except _Unanswered as exc:
            if self._clock() >= deadline - 0.5:
                raise TargetError(f"WinRM probe timed out after {self.settings.command_timeout_s:.0f} s "
                                  f"(--timeout): {exc}") from None
            raise
        return CommandResult(stdout=stdout.decode("cp437", "replace"),
                             stderr=clean_clixml(stderr.decode("cp437", "replace")),
                             exit_status=code, duration_s=self._clock() - start)

    def _receive(self, protocol: Protocol, shell: str, command: str, deadline: float) -> tuple[bytes, bytes, int]:
        """Collect output until the command is done, within the deadline and the output cap."""
        out: list[bytes] = []
        err: list[bytes] = []
        size = 0
        while True:
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise TargetError(f"WinRM probe timed out after {self.settings.command_timeout_s:.0f} s "
                                  "(--timeout): the command had not finished")
            self._wait_at_most(protocol, remaining)
            try:
                stdout, stderr, code, done = self._call(protocol.get_command_output_raw, shell, command)
            except WinRMOperationTimeoutError:
                continue  # the server's "no output yet": ask again
            out.append(stdout)
            err.append(stderr)
            size += len(stdout) + len(stderr)
            if size > self.settings.max_output_bytes:
                raise TargetError(f"probe output exceeds the {self.settings.max_output_bytes} byte cap")
            if done:
                return b"".join(out), b"".join(err), code


class _Unanswered(TargetError):
    """A request the host never answered (the read timeout struck): the host is silent."""


def abortable(protocol: Protocol) -> AbortableTransport:
    transport = protocol.transport
    assert isinstance(transport, AbortableTransport)
    return transport


def _root_cause(exc: BaseException) -> str:
    """The innermost reason of a requests/urllib3 error chain, in one line."""
    seen = exc
    for _ in range(8):
        inner = getattr(seen, "reason", None)
        if not isinstance(inner, BaseException):
            inner = seen.args[0] if seen.args and isinstance(seen.args[0], BaseException) else None
        if inner is None:
            break
        seen = inner
    return " ".join(str(seen).split())[:300]
