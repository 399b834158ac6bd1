"""SSH user authentication, in OpenSSH's order: ssh-agent keys, key files, then password / keyboard-interactive.

Secrets never come from argv: passwords and key passphrases come from
`READINESS_SSH_PASSWORD` / `READINESS_SSH_KEY_PASSPHRASE` or a prompt (only
when stdin is a terminal, asked once per run), and never appear in an error.
"""

from __future__ import annotations

import getpass
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paramiko

from readiness.errors import TargetError

PASSWORD_ENV = "READINESS_SSH_PASSWORD"
PASSPHRASE_ENV = "READINESS_SSH_KEY_PASSPHRASE"
#: Key files OpenSSH tries when the config names none.
DEFAULT_IDENTITIES = ("~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", "~/.ssh/id_rsa")

_prompt_lock = threading.Lock()
_prompted: dict[str, str | None] = {}
_key_cache: dict[tuple[str, int, int], paramiko.PKey] = {}


def ask_once(key: str, question: str) -> str | None:
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


def authenticate(transport: paramiko.Transport, user: str, key: str | None, cfg: dict[str, Any], where: str) -> None:
    """Log in with the first method that works; TargetError naming every method tried when none does."""
    tried: list[str] = []
    allowed = _methods(transport, user)
    if allowed is None:
        return  # "none" authentication accepted
    if "publickey" in allowed:
        for label, pkey in _keys(key, cfg, tried):
            if _try(transport, lambda k=pkey: transport.auth_publickey(user, k), label, tried):
                return
            if pkey.get_name() == "ssh-rsa" and _try_sha1_rsa(transport, user, pkey, label, tried):
                return
    if "password" in allowed or "keyboard-interactive" in allowed:
        password = os.environ.get(PASSWORD_ENV) or ask_once("password", f"SSH password for {user}: ")
        if password is not None:
            if "password" in allowed and _try(
                    transport, lambda: transport.auth_password(user, password, fallback=False), "password", tried):
                return
            if "keyboard-interactive" in allowed and _try(
                    transport, lambda: transport.auth_interactive(user, _answer_with(password)),
                    "keyboard-interactive", tried):
                return
    offered = ", ".join(sorted(allowed)) or "none"
    raise TargetError(f"{where}: authentication failed (tried {', '.join(tried) or 'nothing usable'}; "
                      f"server accepts {offered}; set {PASSWORD_ENV}, an identity file, or ssh-agent)")


def _try_sha1_rsa(transport: paramiko.Transport, user: str, pkey: paramiko.PKey, label: str,
                  tried: list[str]) -> bool:
    """An RSA key again with an ssh-rsa (SHA-1) signature: what OpenSSH before 7.2 (CentOS 6) verifies.

    paramiko signs with rsa-sha2-* when the server does not list what it accepts, which such a
    server rejects; OpenSSH's own client falls back the same way.
    """
    saved = dict(transport.disabled_algorithms or {})
    transport.disabled_algorithms = {**saved, "pubkeys": [*saved.get("pubkeys", []), "rsa-sha2-512",
                                                           "rsa-sha2-256"]}
    try:
        return _try(transport, lambda: transport.auth_publickey(user, pkey), f"{label} (ssh-rsa)", tried)
    finally:
        transport.disabled_algorithms = saved


def _methods(transport: paramiko.Transport, user: str) -> set[str] | None:
    try:
        transport.auth_none(user)
        return None
    except paramiko.BadAuthenticationType as exc:
        return set(exc.allowed_types)
    except paramiko.AuthenticationException:
        return {"publickey", "password", "keyboard-interactive"}
    except (paramiko.SSHException, OSError, EOFError) as exc:
        raise TargetError(f"SSH connection dropped before authentication: {reason(exc)}") from None


def _try(transport: paramiko.Transport, attempt: Callable[[], object], label: str, tried: list[str]) -> bool:
    tried.append(label)
    try:
        attempt()
    except paramiko.AuthenticationException:
        return False
    except (paramiko.SSHException, OSError, EOFError) as exc:
        raise TargetError(f"SSH connection dropped during authentication ({label}): {reason(exc)}") from None
    return transport.is_authenticated()


def _keys(key: str | None, cfg: dict[str, Any], tried: list[str]) -> list[tuple[str, paramiko.PKey]]:
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
        pkey = _load_key(path, tried)
        if pkey is not None:
            keys.append((f"key {path}", pkey))
    return keys


def _load_key(path: Path, tried: list[str]) -> paramiko.PKey | None:
    try:
        stat = path.stat()
        stamp: tuple[str, int, int] | None = (str(path), stat.st_mtime_ns, stat.st_size)
    except OSError:
        stamp = None
    if stamp in _key_cache:
        return _key_cache[stamp]  # type: ignore[index]
    key = _read_key(path, tried)
    if key is not None and stamp is not None:
        _key_cache[stamp] = key
    return key


def _read_key(path: Path, tried: list[str]) -> paramiko.PKey | None:
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
    phrase = os.environ.get(PASSPHRASE_ENV) or ask_once(f"key:{path}", f"Passphrase for {path}: ")
    if phrase is None:
        tried.append(f"key {path} (encrypted, no passphrase)")
        return None
    try:
        return paramiko.PKey.from_path(str(path), phrase.encode())  # positional: paramiko 4 names it passphrase
    except (paramiko.SSHException, OSError, ValueError, TypeError):
        tried.append(f"key {path} (wrong passphrase)")
        return None


def _answer_with(password: str) -> Callable[[str, str, list[tuple[str, bool]]], list[str]]:
    """A keyboard-interactive handler that answers hidden prompts (Password:) with the password."""
    def handler(title: str, instructions: str, prompts: list[tuple[str, bool]]) -> list[str]:
        return [password if not echo else "" for _prompt, echo in prompts]
    return handler


def reason(exc: BaseException | None) -> str:
    """An exception as one short line (EOFError has no text: say what it means)."""
    if exc is None:
        return "unknown error"
    if isinstance(exc, EOFError) and not str(exc):
        return "the server closed the connection"
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())[:200]
