"""The SSH transport: one paramiko connection per target, the whole probe in one exec.

Why paramiko's `Transport` rather than `SSHClient`: every failure of a bad host
(refused, silent listener, wrong or unknown host key, rejected credentials, a
sudo that wants a password, a probe that never ends) has to become one clear
sentence on an `unknown` target, inside a known time, so the steps are driven
one by one with their own timeouts.  What OpenSSH users already wrote down is
honoured: `~/.ssh/config` (Host, HostName, User, Port, IdentityFile, ProxyJump,
UserKnownHostsFile) through `paramiko.SSHConfig`, and `known_hosts` through
readiness/transports/ssh_known_hosts.py (which also reads @revoked and
@cert-authority lines).  Authentication lives in ssh_auth.py, the first bytes a
peer sends (is it SSH at all?) in ssh_wire.py.

Every blocking step has a bound: TCP, the banner, key exchange and
authentication the connect timeout; the exec request the connect timeout
(a server that never answers it is named); sending the probe and reading it
back the command timeout (a peer that advertises a window and never reads
cannot hold a worker).  Above all that, scan.py's watchdog closes the whole
connection at the target's deadline.
"""

from __future__ import annotations

import contextlib
import getpass
import logging
import socket
import threading
from pathlib import Path
from typing import Any

import paramiko

from readiness.errors import TargetError
from readiness.settings import ScanSettings
from readiness.targets import Target
from readiness.transports.base import CONNECT_STEPS, CommandResult, Transport
from readiness.transports.ssh_auth import authenticate, reason
from readiness.transports.ssh_known_hosts import DEFAULT_KNOWN_HOSTS, known_hosts_name, verify_host_key
from readiness.transports.ssh_wire import Replay, excerpt, read_banner

TRUE_WORDS = frozenset({"1", "yes", "true", "on"})
#: What the remote shell runs; the probe itself arrives on stdin.  The probe writes in hundreds of small
#: pieces; `awk 1` (stdio-buffered on a pipe, present on every Linux) hands sshd full blocks instead, which
#: cuts SSH packets ~20x and with them most of the client's decryption CPU.  Without awk: unbuffered.
REMOTE_SHELL = ("/bin/sh -c 'LC_ALL=C; export LC_ALL; if command -v awk >/dev/null 2>&1; "
                "then /bin/sh -s | awk 1; else exec /bin/sh -s; fi'")
#: How much of the probe one send may hand paramiko (so a shut window is noticed at the deadline).
SEND_CHUNK = 32768


class _OnlyWhenDebugging(logging.Filter):
    """paramiko logs a bad host's failure from its own thread as an ERROR traceback, one record per line; our
    TargetError already says it in one sentence.  Those records show with --log-level debug only."""

    def filter(self, record: logging.LogRecord) -> bool:
        return logging.getLogger().getEffectiveLevel() <= logging.DEBUG


logging.getLogger("paramiko").addHandler(logging.NullHandler())
logging.getLogger("paramiko.transport").addFilter(_OnlyWhenDebugging())

_config_lock = threading.Lock()
_config_cache: dict[tuple[Path, float, int], paramiko.SSHConfig] = {}


class _SSHConfig(paramiko.SSHConfig):
    """paramiko's SSHConfig without one cost: its `_does_match` asks the OS for the local user name for
    every Host block, Match line or not, which made one lookup in a 200-host ssh_config cost 6 ms (more
    than the whole SSH session).  A block without Match lines matches nothing by Match, as upstream says."""

    def _does_match(self, match_list, *args, **kwargs):  # type: ignore[no-untyped-def]
        return super()._does_match(match_list, *args, **kwargs) if match_list else []

    def _lookup(self, hostname, options=None, canonical=False, final=False):  # type: ignore[no-untyped-def]
        """paramiko's `_lookup` over only the blocks that can match `hostname`.

        Upstream tests every Host block against every host looked up: 1.5 ms per host with 1,000 blocks
        (issue 11).  A block whose Host patterns are all plain names (no `*`, `?`, `[`, `!`, no Match) matches
        exactly those names, so it is found through a dict; every other block (wildcards, negations, Match)
        is still tested, in file order, and applied as upstream applies it (this body is upstream's, paramiko
        4.0, with the candidate list in place of `self._config`; workers share one config object, so the list
        is not swapped in).  tests/test_ssh_config_index.py compares the two on a config of every block kind.
        """
        if options is None:
            options = paramiko.SSHConfigDict()
        for context in self._candidates(hostname):
            if not (self._pattern_matches(context.get("host", []), hostname)
                    or self._does_match(context.get("matches", []), hostname, canonical, final, options)):
                continue
            for key, value in context["config"].items():
                if key not in options:
                    options[key] = value[:] if value is not None else value
                elif key == "identityfile":
                    options[key].extend(x for x in value if x not in options[key])
        if final:
            options = self._expand_variables(options, hostname)
        return options

    def _candidates(self, hostname: str) -> list[dict[str, Any]]:
        """The blocks, in file order, that may match: those naming `hostname` plainly, and every other kind."""
        index = self.__dict__.get("_readiness_index")
        if index is None or index[0] is not self._config or index[1] != len(self._config):
            named: dict[str, list[int]] = {}
            others: list[int] = []
            for position, context in enumerate(self._config):
                patterns = context.get("host") or []
                if isinstance(patterns, str):
                    patterns = patterns.split(",")
                plain = patterns and not context.get("matches") and not any(
                    char in pattern for pattern in patterns for char in "*?[!")
                if plain:
                    for pattern in dict.fromkeys(patterns):
                        named.setdefault(pattern, []).append(position)
                else:
                    others.append(position)
            index = self._readiness_index = (self._config, len(self._config), named, others)
        config, _, named, others = index
        positions = named.get(hostname)
        return [config[p] for p in (sorted(positions + others) if positions else others)]


def load_ssh_config(path: Path | None) -> paramiko.SSHConfig:
    """The user's ssh_config (or the one named with --ssh-config), parsed once per run."""
    path = (path or Path("~/.ssh/config")).expanduser()
    try:
        stat = path.stat()
        key = (path, stat.st_mtime, stat.st_size)
    except OSError:
        return _SSHConfig()
    with _config_lock:
        if key not in _config_cache:
            try:
                _config_cache[key] = _SSHConfig.from_path(str(path))
            except (OSError, paramiko.ConfigParseError, ValueError) as exc:
                raise TargetError(f"cannot read ssh config {path}: {exc}") from None
        return _config_cache[key]


class SSHTransport(Transport):
    """A Linux/UNIX machine over SSH: `ssh://user@host:port?key=PATH&become=yes&timeout=S`."""

    scheme = "ssh"
    platform = "posix"

    def __init__(self, target: Target, settings: ScanSettings) -> None:
        super().__init__(target, settings)
        self.notes: list[str] = []
        self._transports: list[paramiko.Transport] = []
        self._sockets: list[Any] = []
        self._closed = False
        self._client: paramiko.Transport | None = None
        opts = target.options
        self.become = settings.become or opts.get("become", "").lower() in TRUE_WORDS
        try:
            self.command_timeout = float(opts["timeout"]) if opts.get("timeout") else settings.command_timeout_s
        except ValueError:
            raise TargetError(f"timeout={opts['timeout']!r} is not a number of seconds") from None

    def deadline_s(self) -> float:
        """Connect (TCP, key exchange, authentication, the exec request), then this target's probe timeout."""
        if self.settings.target_deadline_s:
            return self.settings.target_deadline_s
        return CONNECT_STEPS * self.settings.connect_timeout_s + self.command_timeout  # ?timeout= counts

    # -- connecting ---------------------------------------------------------------------------------------

    def open(self) -> None:
        config = load_ssh_config(self.settings.ssh_config)
        self._client = self._connect(self.target.host, self.target.port, self.target.user,
                                     self.target.options.get("key"), config, hops=0)

    def _connect(self, alias: str, port: int | None, user: str, key: str | None,
                 config: paramiko.SSHConfig, hops: int, via: paramiko.Transport | None = None) -> paramiko.Transport:
        """Connect and authenticate to `alias` (an ssh_config Host or a host name): directly, through
        `via` (the previous hop of a chain), or through its own ProxyJump chain."""
        if hops > 5:
            raise TargetError("ProxyJump chain longer than 5 hops (a loop in the ssh config?)")
        cfg = config.lookup(alias)
        host = cfg.get("hostname", alias)
        # Explicit values (URI, inventory) win over ssh_config, as on the ssh command line.
        port = port or int(cfg.get("port", 22))
        user = user or cfg.get("user") or getpass.getuser()
        where = f"{user}@{host}:{port}"
        sock = self._tunnel(via, host, port, where) if via is not None else \
            self._open_socket(host, port, cfg, config, hops, where)
        self._sockets.append(sock)
        timeout = self.settings.connect_timeout_s
        preamble = read_banner(sock, timeout, where)
        transport = paramiko.Transport(Replay(sock, preamble))
        self._transports.append(transport)
        if self._closed:  # the watchdog closed us while we were connecting
            transport.close()
            raise TargetError(f"{where}: connection closed at the deadline")
        transport.banner_timeout = timeout
        transport.handshake_timeout = timeout + 5  # a backstop: _handshake decides at `timeout` and says why
        transport.auth_timeout = timeout
        self._handshake(transport, where, preamble)
        names = [known_hosts_name(host, port)]
        if alias != host:
            names.append(known_hosts_name(alias, port))  # HostKeyAlias-like: the config name also counts
        user_files = [Path(p).expanduser() for p in (cfg.get("userknownhostsfile") or "").split()] \
            or [Path(p).expanduser() for p in DEFAULT_KNOWN_HOSTS]
        note = verify_host_key(transport.get_remote_server_key(), names, user_files, f"{host}:{port}",
                               self.settings.accept_new_host_keys)
        if note:
            self.notes.append(note)
        authenticate(transport, user, key, cfg, where)
        return transport

    def _open_socket(self, host: str, port: int, cfg: dict[str, Any], config: paramiko.SSHConfig,
                     hops: int, where: str) -> socket.socket | paramiko.Channel:
        timeout = self.settings.connect_timeout_s
        jump = cfg.get("proxyjump")
        if jump and jump.lower() != "none":
            # `ProxyJump a,b`: a first, then b through a, then the target through b (as ssh -J does).
            previous: paramiko.Transport | None = None
            for spec in (j.strip() for j in jump.split(",")):
                juser, _, jhost = spec.removeprefix("ssh://").rpartition("@")
                jhost, jport = _split_port(jhost)
                previous = self._connect(jhost, jport, juser, None, config, hops + 1, via=previous)
            assert previous is not None
            return self._tunnel(previous, host, port, where)
        try:
            return socket.create_connection((host, port), timeout=timeout)
        except ConnectionRefusedError:
            raise TargetError(f"{where}: connection refused (nothing listens on port {port})") from None
        except TimeoutError:
            raise TargetError(f"{where}: no TCP answer within {timeout:g} s (host down, filtered, or its "
                              "connection backlog is full)") from None
        except socket.gaierror as exc:
            raise TargetError(f"{where}: cannot resolve host name: {exc.strerror}") from None
        except OSError as exc:
            raise TargetError(f"{where}: unreachable: {exc.strerror or exc}") from None

    def _tunnel(self, via: paramiko.Transport, host: str, port: int, where: str) -> paramiko.Channel:
        try:
            return via.open_channel("direct-tcpip", (host, port), ("127.0.0.1", 0),
                                    timeout=self.settings.connect_timeout_s)
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise TargetError(f"{where}: the jump host could not open a connection to it: {reason(exc)}") from None

    def _handshake(self, transport: paramiko.Transport, where: str, preamble: bytes) -> None:
        """Key exchange after the banner, bounded by the connect timeout (a stalled server must not hang us)."""
        timeout = self.settings.connect_timeout_s
        banner = excerpt(next((line for line in preamble.split(b"\n") if line.startswith(b"SSH-")), b"").strip())
        stalled = (f"{where}: SSH negotiation stalled: it sent its banner {banner} but did not complete the key "
                   f"exchange within {timeout:g} s")
        done = threading.Event()
        try:
            transport.start_client(event=done)
        except paramiko.SSHException as exc:
            raise TargetError(f"{where}: SSH negotiation failed: {reason(exc)}") from None
        if not done.wait(timeout):
            raise TargetError(stalled)
        if not transport.is_active():
            exc = transport.get_exception()
            text = reason(exc) if exc else "the server closed the connection"
            if "timed out" in text.lower() or "timeout" in text.lower():
                raise TargetError(stalled)
            if exc is None or isinstance(exc, EOFError):
                text = f"the server closed the connection during key exchange (after its banner {banner})"
            else:
                text = f"after its banner {banner} it sent what is not SSH key exchange ({text})"
            raise TargetError(f"{where}: SSH negotiation failed: {text}")

    def close(self) -> None:
        """Close every hop (safe from the watchdog's thread: it unblocks whatever waits on them)."""
        self._closed = True
        for transport in reversed(list(self._transports)):
            with contextlib.suppress(Exception):  # closing must never raise
                transport.close()
        for sock in list(self._sockets):
            with contextlib.suppress(Exception):
                sock.close()
        self._transports.clear()
        self._sockets.clear()
        self._client = None

    # -- running ------------------------------------------------------------------------------------------

    def run_script(self, script: str, interpreter: str = "sh") -> CommandResult:
        """Send the script on stdin to one `sh -s` (under `sudo -n` with --become): one exec, one round trip."""
        if interpreter != "sh":
            raise TargetError(f"the ssh transport runs sh probes, not {interpreter}")
        client = self._client
        if client is None:
            raise TargetError("ssh transport used before open()")
        command = f"sudo -n -- {REMOTE_SHELL}" if self.become else REMOTE_SHELL
        start = self._clock()
        deadline = start + self.command_timeout
        try:
            channel = client.open_session(timeout=self.settings.connect_timeout_s)
            channel.settimeout(self.settings.connect_timeout_s)
            self._exec(client, channel, command)
            self._send(channel, script.encode(), deadline)
            stdout, stderr, status = self._drain(channel, deadline)
        except TimeoutError:
            raise TargetError(f"the probe did not finish within {self.command_timeout:g} s") from None
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise TargetError(f"SSH session failed while running the probe: {reason(exc)}") from None
        out, err = stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace")
        if self.become:
            _check_sudo(out, err, status, self.target.user or "this account")
        return CommandResult(stdout=out, stderr=err, exit_status=status, duration_s=self._clock() - start)

    def _exec(self, client: paramiko.Transport, channel: paramiko.Channel, command: str) -> None:
        """The exec request, answered within the connect timeout (paramiko itself would wait forever)."""
        timeout = self.settings.connect_timeout_s
        stalled = threading.Event()

        def give_up() -> None:
            stalled.set()
            client.close()  # wakes exec_command's wait

        timer = threading.Timer(timeout, give_up)
        timer.daemon = True
        timer.start()
        try:
            channel.exec_command(command)
        except (paramiko.SSHException, OSError, EOFError) as exc:
            if stalled.is_set():
                raise TargetError(f"the SSH server did not answer the request to start the probe within "
                                  f"{timeout:g} s (exec request stalled)") from None
            raise TargetError(f"the SSH server refused to start the probe: {reason(exc)}") from None
        finally:
            timer.cancel()

    def _send(self, channel: paramiko.Channel, data: bytes, deadline: float) -> None:
        """The probe on stdin, within the deadline: a peer whose window stays shut is named, not waited on."""
        sent = 0
        try:
            while sent < len(data):
                channel.settimeout(max(0.001, deadline - self._clock()))
                n = channel.send(data[sent:sent + SEND_CHUNK])
                if n == 0:
                    return  # the remote side closed stdin early (ForceCommand, a broken shell): its output says why
                sent += n
            channel.shutdown_write()
        except TimeoutError:
            raise TargetError(f"the target stopped reading the probe after {sent} of {len(data)} bytes (its SSH "
                              f"window stayed shut for {self.command_timeout:g} s)") from None
        except (OSError, paramiko.SSHException, EOFError):
            pass  # the remote side stopped reading early: its output (or its absence) tells why

    def _drain(self, channel: paramiko.Channel, deadline: float) -> tuple[bytes, bytes, int]:
        """Read stdout (blocking, so no busy loop) and stderr until exit, within the deadline and the cap.

        A session that ends early (the connection drops, the server closes the channel mid-output) hands
        on what arrived, with exit status -1: the collectors' end markers say it was cut short.
        """
        limit = self.settings.max_output_bytes
        out: list[bytes] = []
        err: list[bytes] = []
        size = 0

        def take_stderr() -> int:
            taken = 0
            while channel.recv_stderr_ready():
                chunk = channel.recv_stderr(65536)
                err.append(chunk)
                taken += len(chunk)
            return taken

        try:
            while True:
                remaining = deadline - self._clock()
                if remaining <= 0:
                    raise TimeoutError()
                channel.settimeout(remaining)
                chunk = channel.recv(65536)  # b"" at end of stdout; socket.timeout at the deadline
                size += len(chunk) + take_stderr()
                if size > limit:
                    raise TargetError(f"probe output exceeds the {limit} byte cap (settings.max_output_bytes)")
                if not chunk:
                    break
                out.append(chunk)
            if not channel.status_event.wait(max(0.0, deadline - self._clock())):
                raise TimeoutError()
            take_stderr()
        finally:
            channel.close()
        status = channel.exit_status if channel.exit_status_ready() else -1
        return b"".join(out), b"".join(err), status


def _check_sudo(out: str, err: str, status: int, user: str) -> None:
    """`sudo -n` never prompts: when it refuses, say why instead of handing garbage to the parser."""
    if out.strip() or status == 0:
        return
    text = " ".join(err.split())
    lowered = text.lower()
    if "password is required" in lowered or "a terminal is required" in lowered:
        raise TargetError(f"--become: sudo wants a password for {user} (sudo -n refused: {text[:160]!r}); "
                          "allow NOPASSWD for /bin/sh, or scan as root")
    if "must have a tty" in lowered:
        raise TargetError(f"--become: sudoers sets requiretty for {user} ({text[:160]!r}); "
                          "add 'Defaults:USER !requiretty'")
    if "not in the sudoers" in lowered or "not allowed to execute" in lowered or "may not run sudo" in lowered:
        raise TargetError(f"--become: {user} may not run the probe through sudo ({text[:160]!r})")
    if "sudo" in lowered and ("not found" in lowered or status == 127):
        raise TargetError(f"--become: sudo is not installed on the target ({text[:160]!r})")
    if lowered.startswith("sudo:"):
        raise TargetError(f"--become: sudo failed ({text[:160]!r})")


def _split_port(text: str) -> tuple[str, int | None]:
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else None
    host, sep, port = text.rpartition(":")
    if sep and port.isdigit() and ":" not in host:
        return host, int(port)
    return text, None
