"""Fault benchmark: an estate where 10 % of the hosts are broken in every way, scanned through the real CLI.

Not a test: it prints figures.  N hosts (default 1000) are ssh_config aliases on 127.x addresses: 90 % are
real OpenSSH sshd listeners (a few sshd processes, 16 loopback addresses each, running the real probe on
this machine); 10 % are broken, spread evenly over every kind:

  refused, silent (accepts, says nothing), backlog (a full listen queue), changed host key, unknown host
  key, bad password, not-ssh (an HTTP answer), garbage after the banner, banner then silence, junk probe
  output, truncated probe output, an exec request never answered, a 1 KiB window never read.

It prints the wall time against the bound (the per-target deadline x the waves of workers), how many hosts
came back (must be all), how many tracebacks (must be 0), the outcome per kind with one reason each, and
the peak RSS of the scanning process at 200 and 2,000 hosts (a fresh child process per size).

Run as root (sshd, a login user):  .venv/bin/python bench/bench_faults.py [--hosts 1000] [--rss 200,2000]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.hostile_ssh import HostilePeer  # noqa: E402
from tests.sshd_hosts import SshLab, free_port  # noqa: E402

BROKEN_KINDS = ("refused", "silent", "backlog", "changed-key", "unknown-key", "bad-password", "not-ssh",
                "garbage-after-banner", "banner-then-silence", "junk", "truncated", "stall-exec", "tiny-window")
ADDRESSES_PER_SSHD = 15  # OpenSSH listens on at most 16 sockets per process; SshLab.start takes 127.0.0.1
PASSWORD = "bench-faults-wrong-password"
#: A probe output cut after its first sections (what a dropped connection leaves).
TRUNCATED = b"@@readiness@@ probe 1\n@@readiness@@ cmd uname\nLinux\n@@readiness@@ end 0\n@@readiness@@ cmd os"


class Estate:
    """The sshd listeners, the hostile peers and the ssh_config naming every host."""

    def __init__(self, lab: SshLab, total: int, good_sshds: int) -> None:
        self.lab = lab
        self.peers: list[HostilePeer] = []
        self.kind_of: dict[str, str] = {}
        broken = max(len(BROKEN_KINDS), total // 10)
        good = total - broken
        self.blocks: list[str] = []
        self.known: list[str] = []
        good_addresses = self._sshds("good", good_sshds, subnet=1, trusted=True)
        key_addresses = self._sshds("keys", 1, subnet=5, trusted=False)
        for index in range(good):
            address = good_addresses[index % len(good_addresses)]
            self._alias(f"good-{index:05d}", address, "good")
        for index in range(broken):
            kind = BROKEN_KINDS[index % len(BROKEN_KINDS)]
            self._alias(f"{kind}-{index:05d}", self._broken(kind, index, key_addresses), kind)
        config = lab.dir / "bench-ssh_config"
        known = lab.dir / "bench-known_hosts"
        known.write_text("".join(self.known))
        config.write_text("".join(self.blocks) + f"Host *\n  UserKnownHostsFile {known}\n")
        self.config = config

    def _sshds(self, name: str, count: int, subnet: int, trusted: bool) -> list[tuple[str, int]]:
        addresses = []
        for n in range(count):
            port = free_port()
            hosts = [f"127.0.{subnet}.{n * ADDRESSES_PER_SSHD + i + 1}" for i in range(ADDRESSES_PER_SSHD)]
            self.lab.start(f"{name}{n}", port=port, trusted=False, extra="".join(f"ListenAddress {h}\n" for h in hosts))
            addresses += [(h, port) for h in hosts]
        if trusted:
            pub = Path(f"{self.lab.host_key}.pub").read_text().split()
            self.known += [f"[{h}]:{p} {pub[0]} {pub[1]}\n" for h, p in addresses]
        return addresses

    def _broken(self, kind: str, index: int, key_addresses: list[tuple[str, int]]) -> tuple[str, int]:
        host = f"127.0.{2 + index // 250}.{index % 250 + 1}"
        if kind == "refused":
            return host, free_port()
        if kind in ("changed-key", "unknown-key"):  # each kind on its own addresses of the "keys" sshd
            half = len(key_addresses) // 2
            pool = key_addresses[:half] if kind == "changed-key" else key_addresses[half:]
            address = pool[index % len(pool)]
            if kind == "changed-key":
                pub = Path(f"{self.lab.other_host_key}.pub").read_text().split()
                self.known.append(f"[{address[0]}]:{address[1]} {pub[0]} {pub[1]}\n")
            return address
        if kind == "bad-password":
            return host, -1  # filled in by _alias: a good sshd, a user it does not know
        peer = HostilePeer(kind, host=host, output=TRUNCATED if kind == "truncated" else b"Welcome!\n")
        self.peers.append(peer)
        if kind != "backlog":
            self.known.append(peer.known_hosts_line())
        return host, peer.port

    def _alias(self, name: str, address: tuple[str, int], kind: str) -> None:
        user = self.lab.user
        if address[1] == -1:
            user, address = "nosuchuser", (f"127.0.1.{len(self.kind_of) % ADDRESSES_PER_SSHD + 1}",
                                           self.lab.hosts["good0"].port)
        self.blocks.append(f"Host {name}\n  HostName {address[0]}\n  Port {address[1]}\n  User {user}\n"
                           f"  IdentityFile {self.lab.client_key if user == self.lab.user else '/nonexistent'}\n")
        self.kind_of[f"ssh://{name}"] = kind

    def close(self) -> None:
        for peer in self.peers:
            peer.close()


def run_child(estate: Estate, uris: list[str], args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """The real CLI in a fresh process (so its peak RSS is this scan's), with the JSON report kept."""
    inventory = work / f"hosts-{len(uris)}.txt"
    inventory.write_text("".join(f"{u}\n" for u in uris))
    report = work / f"report-{len(uris)}.json"
    cli = ["scan", "-i", str(inventory), "--ssh-config", str(estate.config), "--connect-timeout",
           str(args.connect_timeout), "--timeout", str(args.timeout), "--workers", str(args.workers), "--role",
           "protected-linux", "--reporter", f"json:{report}"]
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(cli)], capture_output=True, text=True,
                          env={**os.environ, "READINESS_SSH_PASSWORD": PASSWORD, "HOME": str(work)}, check=False)
    wall = time.perf_counter() - start
    rusage = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.stdout.strip() else {}
    data = json.loads(report.read_text()) if report.exists() else {"targets": []}
    return {"wall": wall, "rc": rusage.get("rc", proc.returncode), "maxrss_kb": rusage.get("maxrss_kb", 0),
            "targets": data["targets"], "stderr": proc.stderr}


def child(cli: list[str]) -> None:
    from readiness.cli import main

    code = main(cli)
    print(json.dumps({"rc": code, "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))


def report_faults(estate: Estate, uris: list[str], result: dict[str, Any], args: argparse.Namespace) -> None:
    deadline = (4 * args.connect_timeout + args.timeout)  # SSHTransport.deadline_s with these flags
    waves = math.ceil(len(uris) / args.workers)
    bound = deadline * waves
    seen = Counter(t["target"] for t in result["targets"])
    missing = [u for u in uris if u not in seen]
    tracebacks = result["stderr"].count("Traceback") + sum(
        1 for t in result["targets"] if "internal error" in (t["error"] or ""))
    print(f"N={len(uris)} hosts ({len(uris) - sum(1 for u in uris if estate.kind_of[u] != 'good')} good), "
          f"workers {args.workers}, connect timeout {args.connect_timeout:g} s, probe timeout {args.timeout:g} s")
    print(f"  wall {result['wall']:.1f} s against the bound {bound:.0f} s (deadline {deadline:g} s x {waves} waves) "
          f"= {result['wall'] / bound * 100:.0f} % of it; exit code {result['rc']}")
    print(f"  hosts accounted for: {len(uris) - len(missing)}/{len(uris)} (reported twice: "
          f"{sum(1 for c in seen.values() if c > 1)}); tracebacks: {tracebacks}; peak RSS "
          f"{result['maxrss_kb'] / 1024:.0f} MiB")
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for target in result["targets"]:
        by_kind.setdefault(estate.kind_of.get(target["target"], "?"), []).append(target)
    for kind in ("good", *BROKEN_KINDS):
        targets = by_kind.get(kind, [])
        statuses = Counter(t["status"] for t in targets)
        slowest = max((t["duration_s"] or 0 for t in targets), default=0)
        reason = next((t["error"] for t in targets if t["error"]), "")
        print(f"  {kind:<21} {len(targets):>5}  {dict(statuses)}  slowest {slowest:.1f} s  {reason[:110]}")
    if "Traceback" in result["stderr"]:
        print("  first traceback:\n" + result["stderr"][result["stderr"].index("Traceback"):][:3000])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--rss", default="200,2000", help="sizes whose peak RSS is printed (default 200,2000)")
    parser.add_argument("--workers", type=int, default=64)
    parser.add_argument("--connect-timeout", type=float, default=2.0)
    parser.add_argument("--timeout", type=float, default=20.0)
    parser.add_argument("--good-sshds", type=int, default=4, help="sshd processes behind the good hosts")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return
    rss_sizes = [int(s) for s in args.rss.split(",") if s]
    biggest = max([args.hosts, *rss_sizes])
    print(f"bench_faults: {os.cpu_count()} CPUs, python {sys.version.split()[0]}, load {os.getloadavg()[0]:.1f}")
    lab = SshLab()
    estate = None
    try:
        estate = Estate(lab, biggest, args.good_sshds)
        everyone = list(estate.kind_of)

        def sample(n: int) -> list[str]:
            """n hosts with the estate's mix: 10 % broken, every kind."""
            good = [u for u in everyone if estate.kind_of[u] == "good"]
            bad = [u for u in everyone if estate.kind_of[u] != "good"]
            nbad = max(len(BROKEN_KINDS), n // 10)
            return good[:n - nbad] + bad[:nbad]

        uris = sample(args.hosts)
        report_faults(estate, uris, run_child(estate, uris, args, lab.dir), args)
        for n in rss_sizes:
            if n == args.hosts:
                continue
            result = run_child(estate, sample(n), args, lab.dir)
            print(f"N={n}: peak RSS {result['maxrss_kb'] / 1024:.0f} MiB, wall {result['wall']:.1f} s, "
                  f"{len(result['targets'])}/{n} hosts reported, exit {result['rc']}")
    finally:
        if estate is not None:
            estate.close()
        lab.close()
        shutil.rmtree(ROOT / "bench" / "__pycache__", ignore_errors=True)


if __name__ == "__main__":
    main()
