"""Chroot harness: run the real ``checks/linux/probe.sh`` against fixture distributions.

Each fixture host under ``fixtures/distros/<name>/`` has

* ``root/``: the files of that distribution the probe reads (release files,
  /etc/hosts, sshd_config, ifcfg files, init links) plus fake ``proc/`` and
  ``sys/`` trees, since neither is mounted inside the chroot;
* ``commands.yaml``: the captured output of every command the probe runs on
  that host, keyed by command name, then by the exact argument string
  (``"*"`` matches any arguments). A value is the stdout text, or a mapping
  ``{stdout, rc, stderr}`` for commands that exit non-zero or write to stderr;
* ``meta.yaml``: the expected facts and the requirement IDs the host violates.

:func:`build_root` turns one fixture into a chroot: it copies ``root/``, adds
Debian's static busybox with links for the applets the probe calls, and writes
one stub script per captured command that replays the output byte for byte.
A command absent from ``commands.yaml`` is absent from the root, so the probe
records it as ``missing`` exactly as on the real host.

Which shell runs the probe matters. Debian's *static* busybox is built with
FEATURE_SH_STANDALONE and FEATURE_PREFER_APPLETS: its ash answers
``command -v rpm`` (or ip, ps, df, hostname, ...) with success even when no
such file exists, and runs its own applet instead of the stub. A real target's
``/bin/sh`` (bash on EL/SLES, dash on Debian/Ubuntu) does neither, so by default
``/bin/sh`` in the root is the host's dash (copied with the two glibc files it
needs) and busybox only provides the external utilities. ``shell="busybox"``
builds the root with ``/bin/sh`` -> busybox instead, to see how the probe
behaves under that shell.

Roots live outside /tmp (``/var/lib/readiness-tests/roots/<name>``) and every
path component is root-owned and not group/world-writable, as OpenSSH's
``ChrootDirectory`` requires, so the same roots can be served by a chrooted sshd.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures" / "distros"
PROBE = REPO / "checks" / "linux" / "probe.sh"

BUSYBOX = Path("/bin/busybox")
ROOTS_BASE = Path(os.environ.get("READINESS_TEST_BASE", "/var/lib/readiness-tests"))
PROBE_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
MARKER = ".fixture"
# Exit status of a stub asked for arguments that were not captured: the probe
# records it as the section's `end` code, so tests can look for it.
UNCAPTURED_RC = 97

FIXTURE_HOSTS: list[str] = (
    sorted(p.name for p in FIXTURES.iterdir() if (p / "meta.yaml").is_file() and (p / "root").is_dir())
    if FIXTURES.is_dir()
    else []
)

# Busybox applets the probe (and the stubs) run as external programs. echo,
# printf, test and [ are shell builtins in dash and ash; the links keep a
# plain `exec`/`env` lookup working too.
APPLETS = (
    "cat",
    "grep",
    "egrep",
    "sed",
    "readlink",
    "ls",
    "id",
    "date",
    "tr",
    "echo",
    "printf",
    "test",
    "[",
    "true",
    "false",
    "timeout",
    "sleep",
    "env",
    "basename",
)

# Where each command lives on the distributions of the fixtures (all on the
# probe's PATH). Commands not listed here go to /usr/bin.
COMMAND_DIRS = {
    "sshd": "/usr/sbin",
    "uname": "/bin",
    "hostname": "/bin",
    "df": "/bin",
    "ps": "/bin",
    "rpm": "/bin",
    "systemctl": "/bin",
    "ip": "/sbin",
    "ifconfig": "/sbin",
    "lvs": "/sbin",
    "multipath": "/sbin",
    "dmsetup": "/sbin",
    "chkconfig": "/sbin",
    "iptables-save": "/sbin",
    "ufw": "/usr/sbin",
    "firewall-cmd": "/usr/bin",
    "dpkg-query": "/usr/bin",
    "vmware-toolbox-cmd": "/usr/bin",
}

SHELLS = ("dash", "busybox")


class HarnessError(RuntimeError):
    """The harness could not build a root or run the probe."""


def load_meta(name: str) -> dict[str, Any]:
    """The parsed ``meta.yaml`` of fixture host *name*."""
    return _load_yaml(FIXTURES / name / "meta.yaml")


def load_commands(name: str) -> dict[str, dict[str, Any]]:
    """The parsed ``commands.yaml`` of fixture host *name* (command -> argument string -> capture)."""
    return _load_yaml(FIXTURES / name / "commands.yaml") or {}


def default_root_dir(name: str, shell: str = "dash") -> Path:
    """Where the roots of *name* are built by default (outside /tmp, root-owned)."""
    sub = "roots" if shell == "dash" else f"roots-{shell}"
    return ROOTS_BASE / sub / name


def build_root(name: str, dest: Path, shell: str = "dash") -> Path:
    """Build the chroot of fixture host *name* at *dest* and return *dest*.

    An existing *dest* is replaced, but only when it is a root this harness
    built (it carries the ``/.fixture`` marker). *shell* picks ``/bin/sh``:
    ``"dash"`` (default, behaves like the distributions' own sh) or
    ``"busybox"`` (Debian's static busybox ash, standalone applets and all).
    """
    if shell not in SHELLS:
        raise ValueError(f"shell must be one of {SHELLS}, not {shell!r}")
    src = FIXTURES / name / "root"
    if not src.is_dir():
        raise HarnessError(f"no fixture tree at {src}")
    if not BUSYBOX.is_file():
        raise HarnessError(f"{BUSYBOX} is missing (apt-get install busybox-static)")
    dest = Path(os.path.abspath(dest))
    if len(dest.parts) < 3:
        raise HarnessError(f"refusing to build a root at {dest}: too close to /")
    _prepare_parents(dest.parent)
    if dest.is_symlink() or dest.exists():
        if not (dest / MARKER).is_dir():
            raise HarnessError(f"{dest} exists and was not built by this harness; remove it by hand")
        shutil.rmtree(dest)

    shutil.copytree(src, dest, symlinks=True)
    os.chmod(dest, 0o755)
    fixture = _path_in(dest, "/" + MARKER)
    fixture.mkdir(mode=0o755)
    (fixture / "host").write_text(name + "\n")

    _install_stubs(dest, load_commands(name))
    _install_busybox(dest, link_sh=shell == "busybox")
    if shell == "dash":
        _install_dash(dest)
    _make_dev_null(dest)
    _tighten(dest)
    _check_chroot_path(dest)
    return dest


def run_probe(root: Path, timeout: float = 60.0) -> str:
    """Run the real probe.sh in *root* as ``chroot ROOT /bin/sh -s`` and return its stdout.

    The environment is emptied except for PATH. Raises :class:`HarnessError`
    when the shell exits non-zero or does not finish within *timeout* seconds.
    """
    chroot = shutil.which("chroot", path="/usr/sbin:/usr/bin:/sbin:/bin")
    if chroot is None:
        raise HarnessError("the chroot command is not installed")
    try:
        proc = subprocess.run(
            [chroot, str(root), "/bin/sh", "-s"],
            input=PROBE.read_bytes(),
            capture_output=True,
            env={"PATH": PROBE_PATH},
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise HarnessError(f"probe in {root} did not finish within {timeout:.0f} s") from exc
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip()
        raise HarnessError(f"probe in {root} exited {proc.returncode}: {err[-2000:]}")
    return proc.stdout.decode("utf-8", "replace")


# ---------------------------------------------------------------------------- internals
def _load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _path_in(root: Path, abspath: str) -> Path:
    """*abspath* inside *root*, refusing anything that resolves outside it (via symlinks)."""
    target = root / abspath.lstrip("/")
    resolved = Path(os.path.realpath(target))
    base = Path(os.path.realpath(root))
    if resolved != base and base not in resolved.parents:
        raise HarnessError(f"{abspath} resolves outside the root {root}")
    return resolved


def _write(root: Path, abspath: str, data: bytes, mode: int) -> Path:
    path = _path_in(root, abspath)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink() or path.exists():
        path.unlink()
    path.write_bytes(data)
    os.chmod(path, mode)
    return path


def _capture(value: Any) -> tuple[bytes, bytes, int]:
    if isinstance(value, dict):
        return (
            str(value.get("stdout", "")).encode(),
            str(value.get("stderr", "")).encode(),
            int(value.get("rc", 0)),
        )
    if value is None:
        return b"", b"", 0
    return str(value).encode(), b"", 0


def _sh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _install_stubs(root: Path, commands: dict[str, dict[str, Any]]) -> None:
    for cmd, cases in commands.items():
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+-]*", cmd):
            raise HarnessError(f"bad command name {cmd!r} in commands.yaml")
        store = f"/{MARKER}/cmd/{cmd}"
        arms: list[str] = []
        for i, (args, value) in enumerate((cases or {}).items()):
            out, err, rc = _capture(value)
            _write(root, f"{store}/{i}.out", out, 0o644)
            body = f"/bin/busybox cat {store}/{i}.out"
            if err:
                _write(root, f"{store}/{i}.err", err, 0o644)
                body += f"; /bin/busybox cat {store}/{i}.err >&2"
            pattern = "*" if args == "*" else _sh_quote(str(args))
            arms.append(f"{pattern}) {body}; exit {rc} ;;")
        script = "\n".join(
            [
                "#!/bin/sh",
                f"# readiness fixture stub for `{cmd}`: replays the capture in commands.yaml",
                'case "$*" in',
                *arms,
                f'*) echo "fixture stub: no capture for: {cmd} $*" >&2; exit {UNCAPTURED_RC} ;;',
                "esac",
                "",
            ]
        )
        where = COMMAND_DIRS.get(cmd, "/usr/bin")
        _write(root, f"{where}/{cmd}", script.encode(), 0o755)


def _install_busybox(root: Path, link_sh: bool) -> None:
    bindir = _path_in(root, "/bin")
    bindir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(BUSYBOX, bindir / "busybox")
    os.chmod(bindir / "busybox", 0o755)
    for applet in (*APPLETS, *(("sh",) if link_sh else ())):
        link = bindir / applet
        if link.is_symlink() or link.exists():
            continue  # a stub or a fixture file wins over the applet
        os.symlink("busybox", link)


def _install_dash(root: Path) -> None:
    dash = shutil.which("dash", path="/usr/bin:/bin")
    if dash is None:
        raise HarnessError("dash is not installed on this host (it provides /bin/sh for the roots)")
    bindir = _path_in(root, "/bin")
    shutil.copyfile(dash, bindir / "dash")
    os.chmod(bindir / "dash", 0o755)
    sh = bindir / "sh"
    if sh.is_symlink() or sh.exists():
        sh.unlink()
    os.symlink("dash", sh)
    for lib in _shared_libraries(dash):
        _write(root, lib, Path(os.path.realpath(lib)).read_bytes(), 0o755)


def _shared_libraries(binary: str) -> list[str]:
    """Absolute paths of the shared objects (and ELF interpreter) *binary* loads."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=False).stdout
    libs: list[str] = []
    for line in out.splitlines():
        m = re.search(r"(?:=>\s*)?(/\S+)\s+\(0x", line)
        if m:
            libs.append(m.group(1))
    if not libs:
        raise HarnessError(f"cannot list the libraries of {binary} (ldd said: {out.strip()!r})")
    return libs


def _make_dev_null(root: Path) -> None:
    dev = _path_in(root, "/dev")
    dev.mkdir(mode=0o755, exist_ok=True)
    null = dev / "null"
    if null.is_symlink() or null.exists():
        null.unlink()
    os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.chmod(null, 0o666)


def _tighten(root: Path) -> None:
    """Root-owned and not group/world-writable throughout (except /dev/null)."""
    null = root / "dev" / "null"
    for dirpath, dirnames, filenames in os.walk(root):
        for entry in (dirpath, *(os.path.join(dirpath, n) for n in (*dirnames, *filenames))):
            if entry == str(null):
                continue
            st = os.lstat(entry)
            if stat.S_ISLNK(st.st_mode):
                continue
            if st.st_uid != 0 or st.st_gid != 0:
                os.chown(entry, 0, 0)
            if st.st_mode & 0o022:
                os.chmod(entry, stat.S_IMODE(st.st_mode) & ~0o022)


def _prepare_parents(path: Path) -> None:
    missing: list[Path] = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        d.mkdir(mode=0o755, exist_ok=True)  # builds may run in parallel
        os.chmod(d, 0o755)


def _check_chroot_path(root: Path) -> None:
    """Every component of *root* is root-owned and not group/world-writable (sshd ChrootDirectory)."""
    for p in (root, *root.parents):
        st = os.stat(p)
        if st.st_uid != 0 or st.st_mode & 0o022:
            raise HarnessError(
                f"{p} is not a valid ChrootDirectory component (owner uid {st.st_uid}, mode "
                f"{stat.S_IMODE(st.st_mode):04o}); use a root-owned path outside /tmp"
            )
