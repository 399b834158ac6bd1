"""WS-Management message shapes the fake Windows endpoint (tests/wsman_server.py) reads and writes.

Namespaces and action URIs of the Windows Remote Shell (MS-WSMV 3.1.4.x), the response and fault envelopes
as Windows words them, the real fault codes (winerror.h), and how a host looks at the command it is asked to
run (the -EncodedCommand script, whether it reads `$input`).
"""

from __future__ import annotations

import base64
import re
import uuid
from dataclasses import dataclass
from xml.sax.saxutils import escape

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
}
SHELL_URI = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"
ACTIONS = {
    "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create": "create",
    "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete": "delete",
    "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Command": "command",
    "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Send": "send",
    "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive": "receive",
    "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Signal": "signal",
}
DONE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done"
RUNNING = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Running"
TERMINATE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/terminate"
BOUNDARY = b"--Encrypted Boundary"
SPNEGO_ENCRYPTED = "application/HTTP-SPNEGO-session-encrypted"
#: Real WinRM fault codes (MS-WSMV / winerror.h): shell not found, operation timeout, invalid input stream.
FAULT_SHELL_NOT_FOUND = 2150858843
FAULT_TIMED_OUT = 2150858793
FAULT_INVALID_INPUT_STREAM = 2150859147
#: MaxEnvelopeSizekb of WinRM 2.0 (Windows Server 2008 R2) in bytes; 500 KB from WinRM 3.0 on.
WINRM2_MAX_ENVELOPE = 150 * 1024


@dataclass
class Fault:
    """A SOAP fault to answer an action with."""

    code: int
    reason: str
    subcode: str = "w:InternalError"
    status: int = 500


def envelope(action: str, relates_to: str, body: str) -> bytes:
    """A response envelope shaped like the ones Windows sends."""
    return (
        '<s:Envelope xml:lang="en-US" xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        'xmlns:x="http://schemas.xmlsoap.org/ws/2004/09/transfer" '
        'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" '
        'xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell" '
        'xmlns:p="http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd">'
        f"<s:Header><a:Action>{action}</a:Action><a:MessageID>uuid:{uuid.uuid4()}</a:MessageID>"
        "<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>"
        f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo></s:Header><s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def fault_envelope(fault: Fault, relates_to: str) -> bytes:
    body = (
        f"<s:Fault><s:Code><s:Value>s:Receiver</s:Value><s:Subcode><s:Value>{fault.subcode}</s:Value>"
        f'</s:Subcode></s:Code><s:Reason><s:Text xml:lang="en-US">{escape(fault.reason)}</s:Text></s:Reason>'
        '<s:Detail><f:WSManFault xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault" '
        f'Code="{fault.code}" Machine="127.0.0.1"><f:Message>{escape(fault.reason)}</f:Message></f:WSManFault>'
        "</s:Detail></s:Fault>"
    )
    return envelope("http://schemas.dmtf.org/wbem/wsman/1/wsman/fault", relates_to, body)


def is_domain_account(user: str) -> bool:
    return "\\" in user or "@" in user


def reads_input(bootstrap: str) -> bool:
    """Does the command read its stdin through `$input` (the pipeline), the one way that works on 2.0?"""
    return re.search(r"\$input\b", bootstrap, re.IGNORECASE) is not None


def encoded_script(arguments: list[str]) -> str:
    """The script of `powershell.exe ... -EncodedCommand BASE64` (UTF-16LE), or "" without one."""
    lowered = [a.lower() for a in arguments]
    for flag in ("-encodedcommand", "-enc", "-e"):
        if flag in lowered and lowered.index(flag) + 1 < len(arguments):
            return base64.b64decode(arguments[lowered.index(flag) + 1]).decode("utf-16-le", "replace")
    return ""
