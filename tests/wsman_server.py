"""A WS-Management endpoint on loopback that speaks the Windows Remote Shell message shapes.

There is no Windows server in CI, so the WinRM transport is tested against this:
an HTTP(S) server on 127.0.0.1 that parses the SOAP envelopes pywinrm sends
(MS-WSMV / WS-Management shell: transfer Create and Delete, shell Command,
Send, Receive, Signal), authenticates with a real NTLM handshake (pyspnego's
NTLM acceptor) or Basic, decrypts and encrypts NTLM-sealed messages
(multipart/encrypted, MS-WSMV 2.2.9.1.1) on plain HTTP, answers SOAP faults
and 401s, and splits output over several Receive answers.

Where a real host behaves in a way a client can get wrong, the endpoint does the same, each from a source:

- PowerShell 2.0 host (`powershell=2`): powershell.exe 2.0 drains redirected stdin into the pipeline
  whatever the command is, so only a bootstrap that reads `$input` gets the probe; any other (e.g.
  `[Console]::In.ReadToEnd()`) gets nothing and the command prints nothing (StackStorm, rackspace-
  monitoring-agent #403, psake #72, puppetlabs-powershell #6; Ansible's bootstrap reads `$input`).
- Output is held until stdin is closed (the command is still reading it): a Receive before the Send with
  End="true" waits out its OperationTimeout and gets the w:TimedOut fault 2150858793 (MS-WSMV 3.1.4.14
  Receive; pywinrm retries that code).
- A Send after the end of stdin is refused with ERROR_WSMAN_SHELL_INVALID_INPUT_STREAM 2150859147
  (winerror.h; MS-WSMV 3.1.4.13 Send).
- Basic is off unless enabled (WinRM service default Auth/Basic=false) and, when on, works for local
  accounts only: Windows checks Basic credentials against the local SAM, domain accounts need Negotiate
  or Kerberos (IWSManConnectionOptions::put_UserName, "a local account with Basic authentication").
  Anything else is a 401.
- A request larger than MaxEnvelopeSizekb × 1024 bytes is refused with HTTP 413 (MS-WSMV 2.2.4.10
  ConfigType: the setting also limits client request packets; 150 KB = 153600 bytes on WinRM 2.0 /
  Server 2008 R2, 500 KB later; Windows answers 413, ansible.windows #391 and #620).
- `hang` holds chosen actions open without an answer (a host that stopped answering).

It runs nothing.  A command is answered with output captured beforehand (a
probe fixture), and the server records what it was sent (command line,
decoded stdin, shell options) so tests can check the transport sent the probe
intact.
"""

from __future__ import annotations

import base64
import os
import re
import ssl
import struct
import threading
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import spnego

from tests.pki import Issued
from tests.wsman_messages import (
    ACTIONS,
    BOUNDARY,
    DONE,
    FAULT_INVALID_INPUT_STREAM,
    FAULT_SHELL_NOT_FOUND,
    FAULT_TIMED_OUT,
    NS,
    RUNNING,
    SHELL_URI,
    SPNEGO_ENCRYPTED,
    WINRM2_MAX_ENVELOPE,
    Fault,
    encoded_script,
    envelope,
    fault_envelope,
    is_domain_account,
    reads_input,
)

__all__ = ["FAULT_INVALID_INPUT_STREAM", "FAULT_SHELL_NOT_FOUND", "WINRM2_MAX_ENVELOPE", "Fault", "Recorded",
           "WSManConfig", "WSManEndpoint", "decoded_probe", "wsman_endpoint"]


@dataclass
class WSManConfig:
    """How the endpoint behaves: credentials, what it replays, which faults it injects."""

    #: Accounts; a name with a domain (DOMAIN\\user or user@domain) is a domain account.
    users: dict[str, str] = field(default_factory=lambda: {"Administrator": "Sup3r-Secret!"})
    basic: bool = False  # Auth/Basic of the WinRM service: off by default
    powershell: int = 5  # 2: a Server 2008 R2 host, whose powershell.exe withholds stdin from [Console]::In
    hang: frozenset[str] = frozenset()  # actions held open, never answered
    stdout: bytes = b""
    stderr: bytes = b""
    exit_code: int = 0
    chunk: int = 4096  # stdout bytes per Receive answer: bigger outputs take several Receives
    timeouts_first: int = 0  # Receive answers "timed out, no output yet" this many times first
    faults: dict[str, Fault] = field(default_factory=dict)  # action name -> fault
    max_envelope: int = WINRM2_MAX_ENVELOPE


@dataclass
class Recorded:
    """What the endpoint was sent, for tests to check."""

    actions: list[str] = field(default_factory=list)
    shell_options: dict[str, str] = field(default_factory=dict)
    commands: list[tuple[str, list[str]]] = field(default_factory=list)
    stdin: bytes = b""
    stdin_ended: bool = False
    bootstrap: str = ""  # the -EncodedCommand script, decoded
    stdin_delivered: bool | None = None  # False: a PowerShell 2.0 host kept stdin from the bootstrap
    request_sizes: list[int] = field(default_factory=list)  # bytes of every HTTP body carrying SOAP
    rejected: list[str] = field(default_factory=list)  # why requests were refused (401, 413, faults)
    encrypted: list[bool] = field(default_factory=list)
    signals: list[str] = field(default_factory=list)
    open_shells: set[str] = field(default_factory=set)
    deleted_shells: list[str] = field(default_factory=list)
    auth_headers: list[str] = field(default_factory=list)


@dataclass
class _Command:
    """One running command: what it will print, how far Receive got, whether its stdin ended."""

    stdout: bytes
    stderr: bytes
    exit_code: int
    cursor: int = 0
    stdin_ended: bool = False


class _State:
    """Shared between connections: shells, commands and their output cursors."""

    def __init__(self, config: WSManConfig) -> None:
        self.config = config
        self.recorded = Recorded()
        self.lock = threading.Lock()
        self.commands: dict[str, _Command] = {}
        self.timeouts_left = config.timeouts_first
        self.stopping = threading.Event()  # releases the requests held open by `hang`


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # NTLM authenticates the connection: keep it alive
    state: _State

    def log_message(self, *args: object) -> None:
        pass

    # ------------------------------------------------------------------ HTTP and authentication

    def _send(self, status: int, body: bytes = b"", headers: list[tuple[str, str]] | None = None,
              content_type: str = "application/soap+xml;charset=UTF-8") -> None:
        self.send_response(status)
        for name, value in headers or []:
            self.send_header(name, value)
        if body:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _challenge(self, why: str) -> None:
        self.state.recorded.rejected.append(f"401 {why}")
        offers = [("WWW-Authenticate", "Negotiate"), ("WWW-Authenticate", "NTLM")]
        if self.state.config.basic:
            offers.append(("WWW-Authenticate", 'Basic realm="WSMAN"'))
        self._send(401, headers=offers)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path != "/wsman":
            self._send(404)
            return
        header = self.headers.get("Authorization", "")
        if header:
            self.state.recorded.auth_headers.append(header.split(" ")[0])
        if header.startswith("Basic "):
            why = self._basic_refusal(header)
            if why:
                self._challenge(why)
                return
        elif header.startswith(("NTLM ", "Negotiate ")):
            kind, _, token = header.partition(" ")
            if not self._ntlm_step(kind, base64.b64decode(token)):
                return
        elif not getattr(self, "ntlm", None) or not self.ntlm.complete:
            self._challenge("no credentials")
            return
        if raw:
            self.state.recorded.request_sizes.append(len(raw))
        if len(raw) > self.state.config.max_envelope:
            self.state.recorded.rejected.append(f"413 {len(raw)} bytes > MaxEnvelopeSize")
            self._send(413)
            return
        encrypted = self.headers.get("Content-Type", "").startswith("multipart/encrypted")
        if encrypted:
            raw = self._unseal(raw)
        elif not isinstance(self.connection, ssl.SSLSocket) and raw:
            # WinRM's default (AllowUnencrypted=false): SOAP in clear on HTTP is refused
            self._send(401)
            return
        if not raw:  # pywinrm's empty POST that sets up the security context
            self._send(200)
            return
        self.state.recorded.encrypted.append(encrypted)
        status, answer = self._soap(raw)
        if not status:  # held open until shutdown: the client gave up long ago
            return
        if encrypted:
            self._send(status, self._seal(answer),
                       content_type=f'multipart/encrypted;protocol="{SPNEGO_ENCRYPTED}";boundary="Encrypted Boundary"')
        else:
            self._send(status, answer)

    def _basic_refusal(self, header: str) -> str:
        """Why Basic credentials are refused ("" when they are accepted)."""
        if not self.state.config.basic:
            return "Basic is disabled"
        user, _, password = base64.b64decode(header[6:]).decode("utf-8", "replace").partition(":")
        if is_domain_account(user):
            return "Basic is for local accounts only"
        return "" if self.state.config.users.get(user) == password else "wrong user or password"

    def _ntlm_step(self, kind: str, token: bytes) -> bool:
        """One leg of the NTLM handshake; True when the request is authenticated and may go on."""
        if not getattr(self, "ntlm", None) or self.ntlm.complete:
            self.ntlm = spnego.server(protocol="ntlm")
        try:
            answer = self.ntlm.step(token)
        except spnego.exceptions.SpnegoError:
            self.ntlm = None
            self._send(401)  # wrong user or password: no new challenge
            return False
        if not self.ntlm.complete:
            self._send(401, headers=[("WWW-Authenticate", f"{kind} {base64.b64encode(answer or b'').decode()}")])
            return False
        return True

    def _unseal(self, body: bytes) -> bytes:
        """MS-WSMV 2.2.9.1.1: boundary, headers with the plain length, then sig length, sig, sealed data."""
        parts = [p for p in body.split(BOUNDARY + b"\r\n") if p]
        length = int(re.search(rb"Length=(\d+)", parts[0]).group(1))  # type: ignore[union-attr]
        payload = parts[1].replace(b"\tContent-Type: application/octet-stream\r\n", b"", 1)
        payload = payload[: -len(BOUNDARY + b"--\r\n")] if payload.endswith(BOUNDARY + b"--\r\n") else payload
        sig_len = struct.unpack("<i", payload[:4])[0]
        plain = self.ntlm.unwrap(payload[4:4 + sig_len] + payload[4 + sig_len:]).data
        if len(plain) != length:
            raise ValueError("sealed message length mismatch")
        return plain

    def _seal(self, message: bytes) -> bytes:
        sealed = self.ntlm.wrap(message, encrypt=True).data
        signature, data = sealed[:16], sealed[16:]
        return (BOUNDARY + b"\r\n\tContent-Type: " + SPNEGO_ENCRYPTED.encode() + b"\r\n"
                b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=" + str(len(message)).encode()
                + b"\r\n" + BOUNDARY + b"\r\n\tContent-Type: application/octet-stream\r\n"
                + struct.pack("<i", len(signature)) + signature + data + BOUNDARY + b"--\r\n")

    # ------------------------------------------------------------------ WS-Management

    def _soap(self, raw: bytes) -> tuple[int, bytes]:
        state = self.state
        try:
            root = ET.fromstring(raw)
        except ET.ParseError:
            return 400, b""
        head = root.find("s:Header", NS)
        body = root.find("s:Body", NS)
        message_id = head.findtext("a:MessageID", "", NS) if head is not None else ""
        action_uri = head.findtext("a:Action", "", NS) if head is not None else ""
        resource = head.findtext("w:ResourceURI", "", NS) if head is not None else ""
        action = ACTIONS.get(action_uri)
        if head is None or body is None or not message_id or action is None or resource != SHELL_URI:
            return 500, fault_envelope(Fault(2150858817, "The WS-Management service cannot process the request."),
                                       message_id)
        if action in state.config.hang:
            state.recorded.actions.append(action)
            state.stopping.wait()  # never answer; the endpoint's shutdown lets the thread go
            self.close_connection = True
            return 0, b""
        with state.lock:
            state.recorded.actions.append(action)
            if action in state.config.faults:
                fault = state.config.faults[action]
                return fault.status, fault_envelope(fault, message_id)
            if action == "create":
                return 200, self._create(head, body, message_id)
            shell = head.findtext("w:SelectorSet/w:Selector[@Name='ShellId']", "", NS)
            if shell not in state.recorded.open_shells:
                return 500, fault_envelope(Fault(FAULT_SHELL_NOT_FOUND, f"The request for the Windows Remote Shell "
                                                 f"with ShellId {shell} failed because the shell was not found on "
                                                 "the server."), message_id)
            handler = getattr(self, f"_op_{action}")
            return handler(shell, body, message_id)

    def _create(self, head: ET.Element, body: ET.Element, message_id: str) -> bytes:
        for option in head.findall("w:OptionSet/w:Option", NS):
            self.state.recorded.shell_options[option.get("Name", "")] = option.text or ""
        if body.find("rsp:Shell/rsp:InputStreams", NS) is None:
            raise ValueError("no rsp:Shell in Create")
        shell = str(uuid.uuid4()).upper()
        self.state.recorded.open_shells.add(shell)
        return envelope(
            "http://schemas.xmlsoap.org/ws/2004/09/transfer/CreateResponse", message_id,
            "<x:ResourceCreated><a:Address>http://127.0.0.1/wsman</a:Address><a:ReferenceParameters>"
            f"<w:ResourceURI>{SHELL_URI}</w:ResourceURI><w:SelectorSet><w:Selector Name=\"ShellId\">{shell}"
            "</w:Selector></w:SelectorSet></a:ReferenceParameters></x:ResourceCreated>")

    def _op_command(self, shell: str, body: ET.Element, message_id: str) -> tuple[int, bytes]:
        state, config = self.state, self.state.config
        line = body.find("rsp:CommandLine", NS)
        command = line.findtext("rsp:Command", "", NS).strip() if line is not None else ""
        arguments = (line.findtext("rsp:Arguments", "", NS) if line is not None else "").split()
        state.recorded.commands.append((command, arguments))
        state.recorded.bootstrap = encoded_script(arguments)
        delivered = config.powershell >= 3 or reads_input(state.recorded.bootstrap)
        state.recorded.stdin_delivered = delivered
        command_id = str(uuid.uuid4()).upper()
        # stdin withheld: the bootstrap decodes an empty string and runs an empty script, printing nothing
        state.commands[command_id] = _Command(config.stdout, config.stderr, config.exit_code) if delivered \
            else _Command(b"", b"", 0)
        return 200, envelope("http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandResponse", message_id,
                             f"<rsp:CommandResponse><rsp:CommandId>{command_id}</rsp:CommandId></rsp:CommandResponse>")

    def _op_send(self, shell: str, body: ET.Element, message_id: str) -> tuple[int, bytes]:
        stream = body.find("rsp:Send/rsp:Stream", NS)
        running = self.state.commands.get(stream.get("CommandId", "")) if stream is not None else None
        if stream is None or stream.get("Name") != "stdin" or running is None:
            return 500, fault_envelope(Fault(2150858817, "The Send request names no known command."), message_id)
        if running.stdin_ended:
            self.state.recorded.rejected.append("send after the end of stdin")
            return 500, fault_envelope(Fault(FAULT_INVALID_INPUT_STREAM, "The WinRM Shell client cannot process "
                                             "the request. The input stream was already closed.",
                                             subcode="w:InvalidParameter"), message_id)
        self.state.recorded.stdin += base64.b64decode(stream.text or "")
        running.stdin_ended = self.state.recorded.stdin_ended = stream.get("End") == "true"
        return 200, envelope("http://schemas.microsoft.com/wbem/wsman/1/windows/shell/SendResponse", message_id,
                             "<rsp:SendResponse/>")

    def _op_receive(self, shell: str, body: ET.Element, message_id: str) -> tuple[int, bytes]:
        state, config = self.state, self.state.config
        desired = body.find("rsp:Receive/rsp:DesiredStream", NS)
        command_id = desired.get("CommandId", "") if desired is not None else ""
        running = state.commands.get(command_id)
        if running is None:
            return 500, fault_envelope(Fault(2150858817, "The Receive request names no known command."), message_id)
        if state.timeouts_left or not running.stdin_ended:  # still waiting for stdin: nothing to give yet
            state.timeouts_left = max(0, state.timeouts_left - 1)
            return 500, fault_envelope(Fault(FAULT_TIMED_OUT, "The WS-Management service cannot complete the "
                                             "operation within the time specified in OperationTimeout.",
                                             subcode="w:TimedOut"), message_id)
        start = running.cursor
        chunk = running.stdout[start:start + config.chunk]
        running.cursor = start + len(chunk)
        done = running.cursor >= len(running.stdout)
        streams = ""
        if chunk:
            encoded = base64.b64encode(chunk).decode()
            streams += f'<rsp:Stream Name="stdout" CommandId="{command_id}">{encoded}</rsp:Stream>'
        if done:
            if running.stderr:
                streams += (f'<rsp:Stream Name="stderr" CommandId="{command_id}">'
                            f"{base64.b64encode(running.stderr).decode()}</rsp:Stream>")
            streams += (f'<rsp:Stream Name="stdout" CommandId="{command_id}" End="true"></rsp:Stream>'
                        f'<rsp:Stream Name="stderr" CommandId="{command_id}" End="true"></rsp:Stream>'
                        f'<rsp:CommandState CommandId="{command_id}" State="{DONE}">'
                        f"<rsp:ExitCode>{running.exit_code}</rsp:ExitCode></rsp:CommandState>")
        else:
            streams += f'<rsp:CommandState CommandId="{command_id}" State="{RUNNING}"/>'
        return 200, envelope("http://schemas.microsoft.com/wbem/wsman/1/windows/shell/ReceiveResponse", message_id,
                             f"<rsp:ReceiveResponse>{streams}</rsp:ReceiveResponse>")

    def _op_signal(self, shell: str, body: ET.Element, message_id: str) -> tuple[int, bytes]:
        signal = body.find("rsp:Signal", NS)
        self.state.recorded.signals.append(signal.findtext("rsp:Code", "", NS) if signal is not None else "")
        return 200, envelope("http://schemas.microsoft.com/wbem/wsman/1/windows/shell/SignalResponse", message_id,
                             "<rsp:SignalResponse/>")

    def _op_delete(self, shell: str, body: ET.Element, message_id: str) -> tuple[int, bytes]:
        self.state.recorded.open_shells.discard(shell)
        self.state.recorded.deleted_shells.append(shell)
        return 200, envelope("http://schemas.xmlsoap.org/ws/2004/09/transfer/DeleteResponse", message_id, "")


@dataclass
class WSManEndpoint:
    """A running endpoint: where it listens and what it recorded."""

    host: str
    port: int
    scheme: str
    recorded: Recorded
    config: WSManConfig


@contextmanager
def wsman_endpoint(config: WSManConfig, workdir: Path, issued: Issued | None = None,
                   host: str = "127.0.0.1") -> Iterator[WSManEndpoint]:
    """Serve WS-Management on host (HTTPS when a certificate is given) until the block ends.

    NTLM accounts go to pyspnego's acceptor through NTLM_USER_FILE (its only credential store); the
    variable is set for the life of the endpoint and restored afterwards.
    """
    state = _State(config)
    handler = type("Handler", (_Handler,), {"state": state})
    server = ThreadingHTTPServer((host, 0), handler)
    server.daemon_threads = True
    if issued is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(issued.cert, issued.key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    workdir.mkdir(parents=True, exist_ok=True)
    users = workdir / "ntlm-users"
    users.write_text("".join(f":{user}:{password}\n" for user, password in config.users.items()))
    previous = os.environ.get("NTLM_USER_FILE")
    os.environ["NTLM_USER_FILE"] = str(users)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield WSManEndpoint(host=host, port=server.server_address[1], scheme="https" if issued else "http",
                            recorded=state.recorded, config=config)
    finally:
        state.stopping.set()
        server.shutdown()
        server.server_close()
        if previous is None:
            os.environ.pop("NTLM_USER_FILE", None)
        else:
            os.environ["NTLM_USER_FILE"] = previous


def decoded_probe(recorded: Recorded) -> str:
    """The script the transport sent: stdin is base64 of the UTF-8 script."""
    return base64.b64decode(recorded.stdin).decode("utf-8")

