"""Real OpenSSH servers on 127.0.0.1 for the SSH transport tests and the benchmark.

Each host is Debian's own `/usr/sbin/sshd -D -e -f CONFIG` with its config,
host key and PidFile under one lab directory, on a free loopback port.  A host
can be jailed in a root (`ChrootDirectory`) that holds a static busybox and a
distribution's files from fixtures/, which is how one Debian machine presents
CentOS 6, SLES 11 and friends.  sshd insists that a chroot path is root-owned
and not group/world-writable all the way up, so roots live under
/var/lib/readiness-tests, never /tmp.

The login account is a per-lab system user with /bin/sh as shell (root's
/bin/bash does not exist in a busybox root).  Nothing here listens beyond
loopback, and `SshLab.close()` stops every server and removes the users.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

SSHD = "/usr/sbin/sshd"
BUSYBOX = "/bin/busybox"
BASE = Path(os.environ.get("READINESS_TEST_BASE", "/var/lib/readiness-tests"))
#: Tools netprobe.sh uses that the fixture roots do not carry (see SshLab.distro_root).
NETPROBE_APPLETS = ("nc", "wget", "awk", "cut", "expr", "kill", "head", "tail", "tr", "sed", "grep", "date",
                    "sleep", "timeout", "nslookup", "cat")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_banner(port: int, timeout: float = 10.0) -> None:
    """Until the port speaks SSH (sshd is ready), or fail loudly."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                if sock.recv(64).startswith(b"SSH-"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"sshd on port {port} did not start within {timeout} s")


@dataclass
class SshdHost:
    """One running sshd."""

    name: str
    port: int
    config: Path
    process: subprocess.Popen[bytes]
    root: Path | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


@dataclass
class SilentListener:
    """Accepts TCP and never says a word: a hung daemon, a tarpit, a misrouted port."""

    port: int = field(default_factory=free_port)

    def __post_init__(self) -> None:
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", self.port))
        self._sock.listen(64)
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self._held.append(conn)

    def close(self) -> None:
        self._sock.close()
        for conn in self._held:
            conn.close()


class SshLab:
    """Keys, a login user, a known_hosts file and any number of sshd instances."""

    def __init__(self, tag: str | None = None) -> None:
        self.tag = tag or f"{os.getpid()}-{secrets.token_hex(3)}"
        self.dir = BASE / "labs" / self.tag
        self.roots = BASE / "roots"
        for path in (BASE, BASE / "labs", self.roots, self.dir):
            path.mkdir(mode=0o755, exist_ok=True)
            os.chmod(path, 0o755)
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation directory
        self.user = f"rdt{secrets.token_hex(3)}"
        self.password = secrets.token_urlsafe(18)
        self.hosts: dict[str, SshdHost] = {}
        self.known_hosts = self.dir / "known_hosts"
        self.known_hosts.touch()
        self.host_key = self._keygen(self.dir / "ssh_host_ed25519_key")
        self.other_host_key = self._keygen(self.dir / "other_host_ed25519_key")
        self.client_key = self._keygen(self.dir / "id_ed25519")
        self.ssh_config = self.dir / "ssh_config"
        self._aliases: list[str] = []
        self._write_config()
        self._create_user()

    # -- setup --------------------------------------------------------------------------------------------

    def _keygen(self, path: Path, passphrase: str = "") -> Path:
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", "readiness-test", "-f",
                        str(path)], check=True, stdin=subprocess.DEVNULL)
        return path

    def keygen_encrypted(self, name: str, passphrase: str) -> Path:
        return self._keygen(self.dir / name, passphrase)

    def _create_user(self) -> None:
        subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/", "--shell", "/bin/sh",
                        self.user], check=True)
        subprocess.run(["chpasswd"], input=f"{self.user}:{self.password}\n".encode(), check=True)
        keys = self.dir / "authorized_keys"
        keys.mkdir(mode=0o755, exist_ok=True)
        (keys / self.user).write_text(Path(f"{self.client_key}.pub").read_text())
        os.chmod(keys / self.user, 0o644)

    def trust(self, host: SshdHost, key: Path | None = None) -> None:
        """Record a host's key (or another one, for the mismatch test) in the lab's known_hosts."""
        pub = Path(f"{key or self.host_key}.pub").read_text().split()
        with self.known_hosts.open("a") as fh:
            fh.write(f"[127.0.0.1]:{host.port} {pub[0]} {pub[1]}\n")

    def add_alias(self, alias: str, host: SshdHost, **extra: str) -> None:
        """A Host entry in the lab's ssh_config (distinct names for one address, ProxyJump, ...)."""
        lines = [f"Host {alias}", "  HostName 127.0.0.1", f"  Port {host.port}", f"  User {self.user}",
                 f"  IdentityFile {self.client_key}", f"  UserKnownHostsFile {self.known_hosts}"]
        lines += [f"  {k} {v}" for k, v in extra.items()]
        self._aliases.append("\n".join(lines) + "\n")
        self._write_config()

    def _write_config(self) -> None:
        """Host aliases, then `Host *` defaults (the first value found wins, as in OpenSSH)."""
        self.ssh_config.write_text("".join(self._aliases) + f"Host *\n  UserKnownHostsFile {self.known_hosts}\n")

    def chroot(self, name: str) -> Path:
        """A root-owned root for `name` holding a static busybox (/bin/sh) and nothing else yet."""
        root = self.roots / f"{self.tag}-{name}"
        if root.exists():
            shutil.rmtree(root)
        (root / "bin").mkdir(parents=True, mode=0o755)
        shutil.copy2(BUSYBOX, root / "bin" / "busybox")
        for applet in ("sh",):
            (root / "bin" / applet).symlink_to("busybox")
        return root

    def distro_root(self, fixture: str) -> Path:
        """helper-2's fixture root (tests/chroot_hosts.py) for `fixture`, plus the tools netprobe.sh uses.

        The fixture roots hold only what probe.sh needs; a real CentOS 6 or SLES 11 also has nc/wget/awk
        (GNU versions there, busybox applets here), which the network probe measures with.
        """
        from tests.chroot_hosts import build_root

        root = build_root(fixture, self.roots / f"{self.tag}-{fixture}")
        for applet in NETPROBE_APPLETS:
            link = root / "bin" / applet
            if not (link.exists() or link.is_symlink()):
                link.symlink_to("busybox")
        return root

    def start(self, name: str, *, root: Path | None = None, host_key: Path | None = None, trusted: bool = True,
              extra: str = "", port: int | None = None) -> SshdHost:
        """Start one sshd; by default its key is trusted in known_hosts and it has an ssh_config alias."""
        port = port or free_port()
        config = self.dir / f"sshd-{name}.conf"
        lines = [
            f"Port {port}",
            "ListenAddress 127.0.0.1",
            f"HostKey {host_key or self.host_key}",
            f"PidFile {self.dir}/sshd-{name}.pid",
            f"AuthorizedKeysFile {self.dir}/authorized_keys/%u",
            f"AllowUsers {self.user}",
            "PasswordAuthentication yes",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "PermitRootLogin no",
            "StrictModes yes",
            "AllowTcpForwarding yes",
            "LogLevel ERROR",
            "MaxStartups 2000",
            "MaxSessions 50",
            "UseDNS no",
        ]
        if root is not None:
            lines.append(f"ChrootDirectory {root}")
        config.write_text("\n".join(lines) + "\n" + extra)
        process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        host = SshdHost(name=name, port=port, config=config, process=process, root=root)
        self.hosts[name] = host
        try:
            wait_for_banner(port)
        except RuntimeError:
            host.stop()
            err = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"sshd {name} did not start: {err}") from None
        if trusted:
            self.trust(host)
        self.add_alias(name, host)
        return host

    # -- teardown -----------------------------------------------------------------------------------------

    def close(self) -> None:
        for host in self.hosts.values():
            host.stop()
            if host.root is not None and host.root.is_relative_to(self.roots):
                shutil.rmtree(host.root, ignore_errors=True)
        # A session whose client went away (the probe-timeout test's `sleep 600`) outlives its sshd; the lab
        # user is ours alone, so end its processes, by PID, before removing the user.
        listed = subprocess.run(["ps", "-o", "pid=", "-u", self.user], capture_output=True, text=True, check=False)
        for pid in listed.stdout.split():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)
        for _ in range(50):
            if subprocess.run(["userdel", self.user], check=False, capture_output=True).returncode != 8:
                break  # 8: the user is still logged in / has processes; they are on their way out
            time.sleep(0.1)
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def ssh_lab() -> Iterator[SshLab]:
    lab = SshLab()
    try:
        yield lab
    finally:
        lab.close()
