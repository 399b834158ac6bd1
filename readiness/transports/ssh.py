"""The SSH transport: one paramiko connection per target, the whole probe in one exec.

Why paramiko's `Transport` rather than `SSHClient`: every failure of a bad host
(refused, silent listener, wrong or unknown host key, rejected credentials, a
sudo that wants a password, a probe that never ends) has to become one clear
sentence on an `unknown` target, inside a known time, so the steps are driven
one by one with their own timeouts.  What OpenSSH users already wrote down is
honoured: `~/.ssh/config` (Host, HostName, User, Port, IdentityFile, ProxyJump,
UserKnownHostsFile) through `paramiko.SSHConfig`, and `known_hosts` through
`paramiko.HostKeys`.

Secrets never come from argv: passwords and key passphrases come from
`READINESS_SSH_PASSWORD` / `READINESS_SSH_KEY_PASSPHRASE` or a prompt (only
when stdin is a terminal, asked once per run), and never appear in an error.
"""

from __future__ import annotations

import contextlib
import getpass
import logging
import os
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paramiko

from readiness.errors import TargetError
from readiness.settings import ScanSettings
from readiness.targets import Target
from readiness.transports.base import CommandResult, Transport

PASSWORD_ENV = "READINESS_SSH_PASSWORD"
PASSPHRASE_ENV = "READINESS_SSH_KEY_PASSPHRASE"
#: Key files OpenSSH tries when the config names none.
DEFAULT_IDENTITIES = ("~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", "~/.ssh/id_rsa")
DEFAULT_KNOWN_HOSTS = ("~/.ssh/known_hosts", "~/.ssh/known_hosts2")
GLOBAL_KNOWN_HOSTS = ("/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2")
TRUE_WORDS = frozenset({"1", "yes", "true", "on"})
#: What the remote shell runs; the probe itself arrives on stdin.  The probe writes in hundreds of small
#: pieces; `awk 1` (stdio-buffered on a pipe, present on every Linux) hands sshd full blocks instead, which
#: cuts SSH packets ~20x and with them most of the client's decryption CPU.  Without awk: unbuffered.
REMOTE_SHELL = ("/bin/sh -c 'LC_ALL=C; export LC_ALL; if command -v awk >/dev/null 2>&1; "
                "then /bin/sh -s | awk 1; else exec /bin/sh -s; fi'")

# paramiko logs a bad host's exceptions with tracebacks; our TargetError already says it in one line.
logging.getLogger("paramiko").addHandler(logging.NullHandler())

_prompt_lock = threading.Lock()
_prompted: dict[str, str | None] = {}
_known_hosts_lock = threading.Lock()
_config_cache: dict[tuple[Path, float, int], paramiko.SSHConfig] = {}


def _ask_once(key: str, question: str) -> str | None:
    """Ask on the terminal once per run (workers wait on each other), never when stdin is not a TTY."""
    with _prompt_lock:
        if key not in _prompted:
            answer: str | None = None
            if sys.stdin is not None and sys.stdin.isatty():
                try:
                    answer = getpass.getpass(question) or None
                except (EOFError, OSError):
                    answer = None
            _prompted[key] = answer
        return _prompted[key]


class _SSHConfig(paramiko.SSHConfig):
    """paramiko's SSHConfig without one cost: its `_does_match` asks the OS for the local user name for
    every Host block, Match line or not, which made one lookup in a 200-host ssh_config cost 6 ms (more
    than the whole SSH session).  A block without Match lines matches nothing by Match, as upstream says."""

    def _does_match(self, match_list, *args, **kwargs):  # type: ignore[no-untyped-def]
        return super()._does_match(match_list, *args, **kwargs) if match_list else []


def load_ssh_config(path: Path | None) -> paramiko.SSHConfig:
    """The user's ssh_config (or the one named with --ssh-config), parsed once per run."""
    path = (path or Path("~/.ssh/config")).expanduser()
    try:
        stat = path.stat()
        key = (path, stat.st_mtime, stat.st_size)
    except OSError:
        return _SSHConfig()
    with _prompt_lock:
        if key not in _config_cache:
            try:
                _config_cache[key] = _SSHConfig.from_path(str(path))
            except (OSError, paramiko.ConfigParseError, ValueError) as exc:
                raise TargetError(f"cannot read ssh config {path}: {exc}") from None
        return _config_cache[key]


def _stamp(path: Path) -> tuple[str, int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (str(path), stat.st_mtime_ns, stat.st_size)


_known_cache: dict[tuple[Any, ...], paramiko.HostKeys] = {}
_key_cache: dict[tuple[str, int, int], paramiko.PKey] = {}


def load_known_hosts(paths: list[Path]) -> paramiko.HostKeys:
    """The known_hosts files, parsed once per run and again only when one changes (an estate of 500
    hosts would otherwise re-parse a 500-line file 500 times, which costs more CPU than the SSH itself)."""
    stamp = tuple(_stamp(p) for p in paths)
    with _known_hosts_lock:
        cached = _known_cache.get(stamp)
        if cached is None:
            cached = paramiko.HostKeys()
            for path in paths:
                if path.is_file():
                    try:
                        cached.load(str(path))
                    except (OSError, paramiko.SSHException, ValueError) as exc:
                        raise TargetError(f"cannot read known hosts file {path}: {exc}") from None
            _known_cache.clear()
            _known_cache[stamp] = cached
        return cached


def known_hosts_name(host: str, port: int) -> str:
    """How known_hosts names a host: `host`, or `[host]:port` off port 22 (as OpenSSH writes it)."""
    return host if port == 22 else f"[{host}]:{port}"


def fingerprint(key: paramiko.PKey) -> str:
    return f"{key.get_name()} {key.fingerprint}"


class SSHTransport(Transport):
    """A Linux/UNIX machine over SSH: `ssh://user@host:port?key=PATH&become=yes&timeout=S`."""

    scheme = "ssh"
    platform = "posix"

    def __init__(self, target: Target, settings: ScanSettings) -> None:
        super().__init__(target, settings)
        self.notes: list[str] = []
        self._transports: list[paramiko.Transport] = []
        self._client: paramiko.Transport | None = None
        opts = target.options
        self.become = settings.become or opts.get("become", "").lower() in TRUE_WORDS
        try:
            self.command_timeout = float(opts["timeout"]) if opts.get("timeout") else settings.command_timeout_s
        except ValueError:
            raise TargetError(f"timeout={opts['timeout']!r} is not a number of seconds") from None

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
        transport = paramiko.Transport(sock)
        self._transports.append(transport)
        timeout = self.settings.connect_timeout_s
        transport.banner_timeout = timeout
        transport.handshake_timeout = timeout
        transport.auth_timeout = timeout
        self._handshake(transport, where)
        self._verify_host_key(transport, alias, host, port, cfg)
        self._authenticate(transport, user, key, cfg, where)
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
            raise TargetError(f"{where}: no TCP answer within {timeout:g} s (host down or filtered)") from None
        except socket.gaierror as exc:
            raise TargetError(f"{where}: cannot resolve host name: {exc.strerror}") from None
        except OSError as exc:
            raise TargetError(f"{where}: unreachable: {exc.strerror or exc}") from None

    def _tunnel(self, via: paramiko.Transport, host: str, port: int, where: str) -> paramiko.Channel:
        try:
            return via.open_channel("direct-tcpip", (host, port), ("127.0.0.1", 0),
                                    timeout=self.settings.connect_timeout_s)
        except (paramiko.SSHException, OSError) as exc:
            raise TargetError(f"{where}: the jump host could not open a connection to it: {_reason(exc)}") from None

    def _handshake(self, transport: paramiko.Transport, where: str) -> None:
        """Banner and key exchange, bounded by the connect timeout (a silent listener must not hang us)."""
        timeout = self.settings.connect_timeout_s
        done = threading.Event()
        try:
            transport.start_client(event=done)
        except paramiko.SSHException as exc:
            raise TargetError(f"{where}: SSH negotiation failed: {_reason(exc)}") from None
        if not done.wait(timeout + 1):
            raise TargetError(f"{where}: accepted TCP but did not complete the SSH handshake within "
                              f"{timeout:g} s (not an SSH server, or a silent one)")
        if not transport.is_active():
            exc = transport.get_exception()
            text = _reason(exc) if exc else "connection closed"
            if "banner" in text.lower():
                text = f"no SSH banner within {timeout:g} s (the port answers TCP but never speaks SSH)"
            raise TargetError(f"{where}: SSH negotiation failed: {text}")

    def _verify_host_key(self, transport: paramiko.Transport, alias: str, host: str, port: int,
                         cfg: dict[str, Any]) -> None:
        """Known host keys are required; `--accept-new-host-keys` adds unknown ones (never changed ones)."""
        key = transport.get_remote_server_key()
        user_files = [Path(p).expanduser() for p in (cfg.get("userknownhostsfile") or "").split()] \
            or [Path(p).expanduser() for p in DEFAULT_KNOWN_HOSTS]
        known = load_known_hosts([*user_files, *(Path(p) for p in GLOBAL_KNOWN_HOSTS)])
        names = [known_hosts_name(host, port)]
        if alias != host:
            names.append(known_hosts_name(alias, port))  # HostKeyAlias-like: the config name also counts
        entries = {name: known.lookup(name) for name in names}
        found = {n: e for n, e in entries.items() if e}
        if found:
            for entry in found.values():
                stored = entry.get(key.get_name())
                if stored is not None and stored == key:
                    return
                if stored is not None:
                    raise TargetError(
                        f"{host}:{port}: HOST KEY MISMATCH: it presented {fingerprint(key)}, known_hosts has "
                        f"{fingerprint(stored)}; possible man-in-the-middle, or the host was reinstalled "
                        "(verify, then remove the old key with ssh-keygen -R)")
            have = ", ".join(sorted({t for e in found.values() for t in e}))
            raise TargetError(f"{host}:{port}: presented a {key.get_name()} host key but known_hosts only has {have} "
                              f"for it ({fingerprint(key)}); verify it before adding it")
        if not self.settings.accept_new_host_keys:
            raise TargetError(f"{host}:{port}: host key not in known_hosts ({fingerprint(key)}); verify it and add "
                              "it (ssh-keyscan + compare), or pass --accept-new-host-keys")
        target_file = user_files[0]
        with _known_hosts_lock:
            try:
                target_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                with target_file.open("a", encoding="ascii") as fh:
                    fh.write(f"{names[0]} {key.get_name()} {key.get_base64()}\n")
            except OSError as exc:
                raise TargetError(f"cannot record the new host key in {target_file}: {exc.strerror}") from None
        self.notes.append(f"new host key accepted for {host}:{port} ({fingerprint(key)}) and added to "
                          f"{target_file} (--accept-new-host-keys)")

    def _authenticate(self, transport: paramiko.Transport, user: str, key: str | None, cfg: dict[str, Any],
                      where: str) -> None:
        """ssh-agent keys, then key files, then password / keyboard-interactive, as OpenSSH orders them."""
        tried: list[str] = []
        allowed = self._methods(transport, user)
        if allowed is None:
            return  # "none" authentication accepted
        if "publickey" in allowed:
            for label, pkey in self._keys(key, cfg, tried):
                if self._try(transport, lambda k=pkey: transport.auth_publickey(user, k), label, tried):
                    return
                if pkey.get_name() == "ssh-rsa" and self._try_sha1_rsa(transport, user, pkey, label, tried):
                    return
        if "password" in allowed or "keyboard-interactive" in allowed:
            password = os.environ.get(PASSWORD_ENV) or _ask_once("password", f"SSH password for {user}: ")
            if password is not None:
                if "password" in allowed and self._try(
                        transport, lambda: transport.auth_password(user, password, fallback=False), "password",
                        tried):
                    return
                if "keyboard-interactive" in allowed and self._try(
                        transport, lambda: transport.auth_interactive(user, _answer_with(password)),
                        "keyboard-interactive", tried):
                    return
        offered = ", ".join(sorted(allowed)) or "none"
        raise TargetError(f"{where}: authentication failed (tried {', '.join(tried) or 'nothing usable'}; "
                          f"server accepts {offered}; set {PASSWORD_ENV}, an identity file, or ssh-agent)")

    def _try_sha1_rsa(self, transport: paramiko.Transport, user: str, pkey: paramiko.PKey, label: str,
                      tried: list[str]) -> bool:
        """An RSA key again with an ssh-rsa (SHA-1) signature: what OpenSSH before 7.2 (CentOS 6) verifies.

        paramiko signs with rsa-sha2-* when the server does not list what it accepts, which such a
        server rejects; OpenSSH's own client falls back the same way.
        """
        saved = dict(transport.disabled_algorithms or {})
        transport.disabled_algorithms = {**saved, "pubkeys": [*saved.get("pubkeys", []), "rsa-sha2-512",
                                                               "rsa-sha2-256"]}
        try:
            return self._try(transport, lambda: transport.auth_publickey(user, pkey), f"{label} (ssh-rsa)", tried)
        finally:
            transport.disabled_algorithms = saved

    def _methods(self, transport: paramiko.Transport, user: str) -> set[str] | None:
        try:
            transport.auth_none(user)
            return None
        except paramiko.BadAuthenticationType as exc:
            return set(exc.allowed_types)
        except paramiko.AuthenticationException:
            return {"publickey", "password", "keyboard-interactive"}
        except (paramiko.SSHException, OSError) as exc:
            raise TargetError(f"SSH connection dropped before authentication: {_reason(exc)}") from None

    def _try(self, transport: paramiko.Transport, attempt: Callable[[], object], label: str,
             tried: list[str]) -> bool:
        tried.append(label)
        try:
            attempt()
        except paramiko.AuthenticationException:
            return False
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise TargetError(f"SSH connection dropped during authentication ({label}): {_reason(exc)}") from None
        return transport.is_authenticated()

    def _keys(self, key: str | None, cfg: dict[str, Any], tried: list[str]) -> list[tuple[str, paramiko.PKey]]:
        """Agent keys, then the identity files (explicit, config, defaults) that load."""
        keys: list[tuple[str, paramiko.PKey]] = []
        if os.environ.get("SSH_AUTH_SOCK"):
            try:
                keys += [(f"agent key {k.get_name()}", k) for k in paramiko.Agent().get_keys()]
            except (paramiko.SSHException, OSError):
                tried.append("ssh-agent (unreachable)")
        explicit = [key] if key else list(cfg.get("identityfile") or [])
        for name in explicit or DEFAULT_IDENTITIES:
            path = Path(name).expanduser()
            if not path.is_file():
                if explicit:
                    tried.append(f"key {path} (missing)")
                continue
            pkey = self._load_key(path, tried)
            if pkey is not None:
                keys.append((f"key {path}", pkey))
        return keys

    def _load_key(self, path: Path, tried: list[str]) -> paramiko.PKey | None:
        stamp = _stamp(path)
        if stamp in _key_cache:
            return _key_cache[stamp]  # type: ignore[index]
        key = self._read_key(path, tried)
        if key is not None and stamp is not None:
            _key_cache[stamp] = key
        return key

    def _read_key(self, path: Path, tried: list[str]) -> paramiko.PKey | None:
        try:
            return paramiko.PKey.from_path(str(path))
        except paramiko.PasswordRequiredException:
            pass
        except TypeError as exc:  # OpenSSH-format keys: cryptography says "password-protected" this way
            if "password" not in str(exc).lower():
                tried.append(f"key {path} (unreadable: {type(exc).__name__})")
                return None
        except (paramiko.SSHException, OSError, ValueError) as exc:
            tried.append(f"key {path} (unreadable: {type(exc).__name__})")
            return None
        phrase = os.environ.get(PASSPHRASE_ENV) or _ask_once(f"key:{path}", f"Passphrase for {path}: ")
        if phrase is None:
            tried.append(f"key {path} (encrypted, no passphrase)")
            return None
        try:
            return paramiko.PKey.from_path(str(path), phrase.encode())  # positional: paramiko 4 names it passphrase
        except (paramiko.SSHException, OSError, ValueError, TypeError):
            tried.append(f"key {path} (wrong passphrase)")
            return None

    def close(self) -> None:
        for transport in reversed(self._transports):
            with contextlib.suppress(Exception):  # closing must never raise
                transport.close()
        self._transports.clear()
        self._client = None

    # -- running ------------------------------------------------------------------------------------------

    def run_script(self, script: str, interpreter: str = "sh") -> CommandResult:
        """Send the script on stdin to one `sh -s` (under `sudo -n` with --become): one exec, one round trip."""
        if interpreter != "sh":
            raise TargetError(f"the ssh transport runs sh probes, not {interpreter}")
        if self._client is None:
            raise TargetError("ssh transport used before open()")
        command = f"sudo -n -- {REMOTE_SHELL}" if self.become else REMOTE_SHELL
        start = self._clock()
        deadline = start + self.command_timeout
        try:
            channel = self._client.open_session(timeout=self.settings.connect_timeout_s)
            channel.exec_command(command)
            try:
                channel.sendall(script.encode())
                channel.shutdown_write()
            except (OSError, paramiko.SSHException):
                pass  # the remote side stopped reading early (ForceCommand, a broken shell): its output tells why
            stdout, stderr, status = self._drain(channel, deadline)
        except TimeoutError:
            raise TargetError(f"the probe did not finish within {self.command_timeout:g} s") from None
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise TargetError(f"SSH session failed while running the probe: {_reason(exc)}") from None
        out, err = stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace")
        if self.become:
            _check_sudo(out, err, status, self.target.user or "this account")
        return CommandResult(stdout=out, stderr=err, exit_status=status, duration_s=self._clock() - start)

    def _drain(self, channel: paramiko.Channel, deadline: float) -> tuple[bytes, bytes, int]:
        """Read stdout (blocking, so no busy loop) and stderr until exit, within the deadline and the cap."""
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


def _answer_with(password: str) -> Callable[[str, str, list[tuple[str, bool]]], list[str]]:
    """A keyboard-interactive handler that answers hidden prompts (Password:) with the password."""
    def handler(title: str, instructions: str, prompts: list[tuple[str, bool]]) -> list[str]:
        return [password if not echo else "" for _prompt, echo in prompts]
    return handler


def _split_port(text: str) -> tuple[str, int | None]:
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else None
    host, sep, port = text.rpartition(":")
    if sep and port.isdigit() and ":" not in host:
        return host, int(port)
    return text, None


def _reason(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown error"
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())[:200]
