"""known_hosts as OpenSSH reads it: plain keys, hashed names, patterns, `@revoked` and `@cert-authority`.

paramiko's `HostKeys` reads a marker line (`@revoked * ssh-ed25519 AAAA…`) as a host named `@revoked`
with a key type `*` and raises `InvalidHostKey` on it, which made every SSH target of a scan fail on one
valid line.  This parser keeps what OpenSSH keeps (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"):

- a plain line trusts its key for the hosts its patterns match (`*`, `?`, `!negation`, `|1|` hashes);
- `@revoked` marks a key that is never accepted, not even with --accept-new-host-keys;
- `@cert-authority` trusts host certificates that CA signed.  paramiko cannot check host certificates,
  so a host covered only by such a line is refused with a sentence saying so (never trusted blindly,
  never a crash); plain keys for the same host in the same file keep working.

Lines this parser cannot read (unknown key types, bad base64) are skipped, as OpenSSH skips them.
"""

from __future__ import annotations

import binascii
import functools
import re
import threading
from base64 import b64decode
from dataclasses import dataclass, field
from pathlib import Path

import paramiko

from readiness.errors import TargetError

DEFAULT_KNOWN_HOSTS = ("~/.ssh/known_hosts", "~/.ssh/known_hosts2")
GLOBAL_KNOWN_HOSTS = ("/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2")

_lock = threading.Lock()
_cache: dict[tuple[object, ...], KnownHosts] = {}


@dataclass
class Entry:
    """One usable known_hosts line."""

    patterns: list[str]
    key_type: str
    blob: bytes
    marker: str = ""  # "", "revoked" or "cert-authority"

    def matches(self, names: list[str]) -> bool:
        return any(host_matches(self.patterns, name) for name in names)


@dataclass
class KnownHosts:
    """Every line of the known_hosts files, by marker."""

    plain: list[Entry] = field(default_factory=list)
    revoked: list[Entry] = field(default_factory=list)
    authorities: list[Entry] = field(default_factory=list)
    _by_name: dict[str, list[Entry]] = field(default_factory=dict)
    _patterned: list[Entry] = field(default_factory=list)

    def add_line(self, line: str) -> None:
        fields = line.split()
        marker = ""
        if fields and fields[0].startswith("@"):
            marker, fields = fields[0][1:].lower(), fields[1:]
            if marker not in ("revoked", "cert-authority"):
                return  # an unknown marker: OpenSSH ignores the line
        if len(fields) < 3:
            return
        try:
            blob = b64decode(fields[2], validate=True)
        except (binascii.Error, ValueError):
            return
        entry = Entry(patterns=fields[0].split(","), key_type=fields[1], blob=blob, marker=marker)
        {"": self.plain, "revoked": self.revoked, "cert-authority": self.authorities}[marker].append(entry)
        if marker:
            return
        if all(p and not any(c in p for c in "*?!|") for p in entry.patterns):
            for pattern in entry.patterns:  # plain names: found by a dict lookup, not a scan of the file
                self._by_name.setdefault(pattern.lower(), []).append(entry)
        else:
            self._patterned.append(entry)

    def plain_for(self, names: list[str]) -> list[Entry]:
        """The plain lines that match one of `names`, in file order."""
        found = {id(e): e for name in names for e in self._by_name.get(name.lower(), [])}
        found.update({id(e): e for e in self._patterned if e.matches(names)})
        return sorted(found.values(), key=self.plain.index) if len(found) > 1 else list(found.values())


def host_matches(patterns: list[str], name: str) -> bool:
    """OpenSSH's host pattern list: any positive match and no negated one (hashed names compared by HMAC)."""
    matched = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        pattern = pattern[1:] if negated else pattern
        if pattern.startswith("|1|"):
            hit = paramiko.HostKeys.hash_host(name, pattern) == pattern
        else:
            hit = _wildcard(pattern).fullmatch(name.lower()) is not None
        if hit and negated:
            return False
        matched = matched or hit
    return matched


@functools.lru_cache(maxsize=4096)
def _wildcard(pattern: str) -> re.Pattern[str]:
    """OpenSSH patterns know only `*` and `?` (so `[host]:port` is literal, unlike fnmatch's classes)."""
    return re.compile(re.escape(pattern.lower()).replace(r"\*", ".*").replace(r"\?", "."))


def _stamp(path: Path) -> tuple[str, int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (str(path), stat.st_mtime_ns, stat.st_size)


def load_known_hosts(paths: list[Path]) -> KnownHosts:
    """The known_hosts files, parsed once per run and again only when one changes (an estate of 500
    hosts would otherwise re-parse a 500-line file 500 times, which costs more CPU than the SSH itself)."""
    stamp = tuple(_stamp(p) for p in paths)
    with _lock:
        cached = _cache.get(stamp)
        if cached is None:
            cached = KnownHosts()
            for path in paths:
                if not path.is_file():
                    continue
                try:
                    text = path.read_text(encoding="utf-8", errors="replace")
                except OSError as exc:
                    raise TargetError(f"cannot read known hosts file {path}: {exc.strerror}") from None
                for line in text.splitlines():
                    if line.strip() and not line.lstrip().startswith("#"):
                        cached.add_line(line.strip())
            _cache.clear()
            _cache[stamp] = cached
        return cached


def known_hosts_name(host: str, port: int) -> str:
    """How known_hosts names a host: `host`, or `[host]:port` off port 22 (as OpenSSH writes it)."""
    return host if port == 22 else f"[{host}]:{port}"


def fingerprint(key: paramiko.PKey) -> str:
    return f"{key.get_name()} {key.fingerprint}"


def _same(entry: Entry, key: paramiko.PKey) -> bool:
    return entry.blob == key.asbytes()


def _fingerprint_of(entry: Entry) -> str:
    try:
        return fingerprint(paramiko.PKey.from_type_string(entry.key_type, entry.blob))
    except (paramiko.SSHException, ValueError, TypeError):
        return entry.key_type


def verify_host_key(key: paramiko.PKey, names: list[str], user_files: list[Path], where: str,
                    accept_new: bool) -> str | None:
    """Raise TargetError unless `key` may be trusted for `names`; return a note when it was newly recorded.

    Known host keys are required; `accept_new` (--accept-new-host-keys) adds unknown ones, never changed
    or revoked ones.
    """
    known = load_known_hosts([*user_files, *(Path(p) for p in GLOBAL_KNOWN_HOSTS)])
    if any(_same(e, key) and e.matches(names) for e in known.revoked):
        raise TargetError(f"{where}: host key {fingerprint(key)} is marked @revoked in known_hosts; refused "
                          "(as OpenSSH refuses it, even with --accept-new-host-keys)")
    mine = known.plain_for(names)
    if any(_same(e, key) for e in mine):
        return None
    same_type = [e for e in mine if e.key_type == key.get_name()]
    if same_type:
        was = _fingerprint_of(same_type[0])
        raise TargetError(
            f"{where}: HOST KEY MISMATCH: it presented {fingerprint(key)}, known_hosts has {was}; possible "
            "man-in-the-middle, or the host was reinstalled (verify, then remove the old key with ssh-keygen -R)")
    if mine:
        have = ", ".join(sorted({e.key_type for e in mine}))
        raise TargetError(f"{where}: presented a {key.get_name()} host key but known_hosts only has {have} "
                          f"for it ({fingerprint(key)}); verify it before adding it")
    if any(e.matches(names) for e in known.authorities):
        raise TargetError(f"{where}: known_hosts trusts this host through a @cert-authority line (host "
                          "certificates), which readiness cannot verify (paramiko has no SSH host-certificate "
                          f"support); add the host's plain key ({fingerprint(key)}) after checking it")
    if not accept_new:
        raise TargetError(f"{where}: host key not in known_hosts ({fingerprint(key)}); verify it and add "
                          "it (ssh-keyscan + compare), or pass --accept-new-host-keys")
    target_file = user_files[0]
    with _lock:
        try:
            target_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            with target_file.open("a", encoding="ascii") as fh:
                fh.write(f"{names[0]} {key.get_name()} {key.get_base64()}\n")
        except OSError as exc:
            raise TargetError(f"cannot record the new host key in {target_file}: {exc.strerror}") from None
    return (f"new host key accepted for {where} ({fingerprint(key)}) and added to {target_file} "
            "(--accept-new-host-keys)")
