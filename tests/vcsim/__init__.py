"""The govmomi vSphere simulator as a real TLS peer for tests and the benchmark.

`build()` compiles tests/vcsim/main.go with Debian's Go and govmomi
(GO111MODULE=off GOPATH=/usr/share/gocode) once per source version and keeps
the binary under /var/cache/readiness-tests, so later runs start in well under
a second.  `Simulator` starts it on 127.0.0.1 with a certificate from the
test CA and stops it; credentials go through the environment, never argv.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.pki import TestCA

HERE = Path(__file__).resolve().parent
GOPATH = "/usr/share/gocode"
SIM_PACKAGE = Path(GOPATH) / "src/github.com/vmware/govmomi/simulator"
USER = "readiness@vsphere.local"


def cache_dir() -> Path:
    for candidate in (Path("/var/cache/readiness-tests"), Path(tempfile.gettempdir()) / "readiness-tests-cache"):
        try:
            candidate.mkdir(parents=True, exist_ok=True)
            if os.access(candidate, os.W_OK):
                return candidate
        except OSError:
            continue
    raise RuntimeError("no writable cache directory for the simulator build")


def available() -> str | None:
    """Why the simulator cannot be built here, or None when it can."""
    if shutil.which("go") is None:
        return "golang-go is not installed (tests/run.sh installs it)"
    if not SIM_PACKAGE.is_dir():
        return "golang-github-vmware-govmomi-dev is not installed (tests/run.sh installs it)"
    return None


def build() -> Path:
    """The launcher binary, built once per (main.go, Go, govmomi) version."""
    go_version = subprocess.run(["go", "version"], capture_output=True, text=True, check=True).stdout
    govmomi = (SIM_PACKAGE / "simulator.go").stat().st_mtime_ns
    sources = b"".join(path.read_bytes() for path in sorted(HERE.glob("*.go")))
    digest = hashlib.sha256(sources + go_version.encode() + str(govmomi).encode())
    cache = cache_dir()
    binary = cache / f"vcsim-{digest.hexdigest()[:16]}"
    if binary.exists():
        return binary
    env = {**os.environ, "GO111MODULE": "off", "GOPATH": GOPATH, "GOCACHE": str(cache / "gocache")}
    partial = binary.with_suffix(".tmp")
    proc = subprocess.run(["go", "build", "-o", str(partial), "."], cwd=HERE, env=env, capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"go build of tests/vcsim failed:\n{proc.stderr}")
    partial.rename(binary)
    return binary


@dataclass
class Simulator:
    """One running simulator: its address, CA bundle and the password its one user has."""

    workdir: Path
    password: str = "s3cret-Pa55!word"
    args: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    ca: TestCA | None = None
    proc: subprocess.Popen[str] | None = None

    def start(self) -> Simulator:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.ca = TestCA(self.workdir)
        issued = self.ca.issue("localhost", "127.0.0.1")
        env = {**os.environ, "VCSIM_USER": USER, "VCSIM_PASSWORD": self.password}
        self.proc = subprocess.Popen(
            [str(build()), "-cert", str(issued.cert), "-key", str(issued.key), *self.args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=(self.workdir / "vcsim.log").open("w"),
            text=True, env=env, cwd=self.workdir)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(timeout=10)
            raise RuntimeError(f"vcsim did not start: {(self.workdir / 'vcsim.log').read_text()[-2000:]}")
        self.info = json.loads(line)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()  # the launcher exits at EOF on stdin
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return int(self.info["port"])

    @property
    def bundle(self) -> Path:
        assert self.ca is not None
        return self.ca.bundle

    def uri(self, user: str = USER) -> str:
        return f"vcenter://{user.replace('@', '%40')}@127.0.0.1:{self.port}"

    def connect(self) -> Any:
        """A pyVmomi session for building the estate (independent of readiness's transport)."""
        import ssl

        from pyVim.connect import SmartConnect

        context = ssl.create_default_context(cafile=str(self.bundle))
        return SmartConnect(host="127.0.0.1", port=self.port, user=USER, pwd=self.password, sslContext=context)
