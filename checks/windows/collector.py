"""Runs probe.ps1 once over the transport (WinRM or local powershell.exe) and parses what comes back."""

from __future__ import annotations

import base64
import re
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

from readiness.checks.base import CollectContext, Collector, unparseable
from readiness.checks.windows.capture import write_capture
from readiness.checks.windows.parse import FEEDS, parse_probe
from readiness.errors import TargetError
from readiness.settings import ScanSettings
from readiness.transports.base import CommandResult, Transport


def probe_script() -> str:
    """The PowerShell probe, as shipped inside the package."""
    return resources.files("readiness.checks.windows").joinpath("probe.ps1").read_text(encoding="utf-8")


def _field(value: object) -> str:
    """A value for the tab-separated input: control characters cannot split or add lines."""
    return "".join(ch if ch >= " " else " " for ch in str(value))


def probe_input(settings: ScanSettings, network: bool) -> str:
    """The probe's parameters as tab-separated lines (read as data by the probe, never evaluated)."""
    net = settings.network
    lines = [["network", "1" if network else "0"], ["timeout_ms", str(int(net.timeout_s * 1000))],
             ["port_check_host", net.port_check_host]]
    lines += [["endpoint", e.id, e.requirement, e.pattern, e.url] for e in net.endpoints]
    lines += [["outbound_port", str(port)] for port in net.outbound_ports]
    if net.time_url:
        lines.append(["time_url", net.time_url])
    if net.proxy is not None:  # None: the machine's own (WinINET/WinHTTP) proxy; "": none
        lines.append(["proxy", net.proxy])
    if settings.management_server:
        lines.append(["management_server", settings.management_server])
    if settings.vcenter:  # VC-NET-001: the management server reaches vCenter/ESXi on 443
        lines.append(["vcenter", settings.vcenter])
    return "\n".join("\t".join(_field(v) for v in line) for line in lines) + "\n"


def build_script(settings: ScanSettings, network: bool) -> str:
    """probe.ps1 preceded by one line that holds its input as base64 (the only value spliced in).

    Base64's alphabet has no quote, so the single-quoted literal cannot be broken out of whatever
    the endpoints file or the command line says.
    """
    encoded = base64.b64encode(probe_input(settings, network).encode("utf-8")).decode("ascii")
    return f"$ReadinessInput = '{encoded}'\r\n{probe_script()}"


def one_line(script: str) -> str:
    """The script as a single line: `powershell -Command -` runs stdin line by line, which breaks
    multi-line blocks, so the local transport gets a one-line loader of the same script.

    Stdin here is the *command source* (-Command -), which PowerShell 2.0 reads like 3.0+; the script
    never reads [Console]::In itself, which 2.0 leaves empty because it drains redirected stdin into the
    pipeline. The trailing empty line makes 2.0 run the last command instead of waiting for more."""
    encoded = base64.b64encode(script.encode("utf-8")).decode("ascii")
    return ("& ([ScriptBlock]::Create([Text.Encoding]::UTF8.GetString("
            f"[Convert]::FromBase64String('{encoded}'))))\r\n\r\n")


class WindowsProbeCollector(Collector):
    """Windows facts (management server, protected machine, Hyper-V host, VMM) from one probe run.

    Over WinRM the probe also runs the network checks from the target itself (.NET TcpClient and
    WebRequest through the system proxy); locally the Python network collectors do that.
    """

    name = "windows"
    namespaces: ClassVar[tuple[str, ...]] = tuple(sorted({p.split(".")[0] for feeds in FEEDS.values() for p in feeds}
                                                         | {"os", "host", "network", "boot", "probe"}))
    platforms = frozenset({"windows"})

    def collect(self, ctx: CollectContext) -> dict[str, Any]:
        local = ctx.transport.is_local
        target = ctx.transport.target
        auto_roles = not (target.roles or ctx.settings.roles)  # auto-detected roles may turn out to need them
        network = not local and (ctx.wanted is None or auto_roles or bool(ctx.wanted & {"connectivity", "lan"}))
        script = build_script(ctx.settings, network=network)
        result = ctx.transport.run_script(one_line(script) if local else script, interpreter="powershell")
        if ctx.settings.raw_output is not None:
            capture(ctx.settings.raw_output, ctx.settings.raw_mask, ctx.transport, result)
        try:
            facts, gaps = parse_probe(result.stdout)
        except ValueError as exc:
            raise unparseable("PowerShell probe failed", result, exc) from None
        ctx.gaps.update(gaps)
        facts["probe"]["duration_s"] = round(result.duration_s, 3)
        facts["probe"]["transport"] = ctx.transport.scheme
        return facts


def capture(out: Path, mask: bool, transport: Transport, result: CommandResult) -> None:
    """`readiness facts --raw`: keep what the probe printed (before parsing, so broken output is kept too)."""
    if out.is_dir():
        name = transport.target.name or transport.target.display_name
        out = out / (re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") + ".txt")
    try:
        write_capture(out, result.stdout, mask)
    except OSError as exc:
        raise TargetError(f"cannot write the raw capture {out}: {exc.strerror}") from None
