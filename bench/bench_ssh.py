"""Estate scan over SSH: client CPU per host, hosts/s against the sshd ceiling, peak RSS, and Ansible.

Not a test: it prints figures.  N "hosts" are sshd listeners on 127.0.0.1 (Debian's
/usr/sbin/sshd, up to 16 ports per process, each port a distinct host name in an
ssh_config), serving this Debian machine, so the full probe really runs on the far
side.  For N in (50, 200) it measures, in the same run:

* readiness (a fresh child process per N, so peak RSS is that scan's): wall time,
  client CPU (user+sys of the scanning process: SSH, parsing, judging, report
  entries), peak RSS;
* the server side (every sshd and everything it ran, i.e. the probes) from
  /proc/PID/stat utime+stime+cutime+cstime of the listening sshd processes,
  giving the ceiling: CPUs / server CPU per host (and, since client and servers
  share this machine, CPUs / (server + client) CPU per host);
* `ansible all -m setup` and `ansible all -m raw -a true` from bench/.venv
  (ansible-core from PyPI, created here, not a project dependency) with the same
  forks, the same hosts and keys, fresh connections (ControlMaster=no, no
  ControlPersist), client CPU from RUSAGE_CHILDREN (ansible and its ssh processes).

Run as root (sshd, a login user):  .venv/bin/python bench/bench_ssh.py [--sizes 50,200] [--forks 16]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.sshd_hosts import SshLab, free_port  # noqa: E402

BENCH_VENV = ROOT / "bench" / ".venv"
PORTS_PER_SSHD = 16  # OpenSSH listens on at most 16 sockets per process
TICKS = os.sysconf("SC_CLK_TCK")


def scan_child(config: Path, hosts: list[str], workers: int) -> dict[str, Any]:
    """In a fresh process: scan + judge + report entries; report wall, CPU and peak RSS."""
    from readiness.engine import judge_target
    from readiness.report import target_entry
    from readiness.rulepack import default_rules
    from readiness.scan import scan
    from readiness.settings import NetworkSettings, ScanSettings
    from readiness.targets import parse_target

    rules = list(default_rules())
    settings = ScanSettings(ssh_config=config, connect_timeout_s=30, command_timeout_s=120,
                            network=NetworkSettings(endpoints=[], outbound_ports=[], port_check_host="127.0.0.1"))
    targets = [parse_target(f"ssh://{h}") for h in hosts]
    cpu0, wall0 = time.process_time(), time.perf_counter()
    statuses: dict[str, int] = {}
    errors = []
    for facts in scan(targets, settings, rules, workers=workers):
        entry = target_entry(facts, judge_target(facts, rules, [], []))
        statuses[entry["status"]] = statuses.get(entry["status"], 0) + 1
        if facts.error:
            errors.append(facts.error)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return {"wall": wall, "cpu": cpu, "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "statuses": statuses, "errors": errors[:3]}


def proc_cpu(pid: int) -> float:
    """utime+stime+cutime+cstime of a process, in seconds (children count once reaped)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / TICKS


def ensure_ansible() -> Path | None:
    ansible = BENCH_VENV / "bin" / "ansible"
    if ansible.exists():
        return ansible
    print("creating bench/.venv with ansible-core from PyPI ...", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(BENCH_VENV)], check=True)
        subprocess.run([str(BENCH_VENV / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
                        "ansible-core"], check=True)
    except (subprocess.CalledProcessError, OSError) as exc:
        print(f"  cannot install ansible-core: {exc}; the Ansible comparison is skipped")
        return None
    return ansible if ansible.exists() else None


def run_ansible(ansible: Path, inventory: Path, config: Path, forks: int, module: list[str]) -> dict[str, Any]:
    env = {**os.environ,
           "ANSIBLE_SSH_ARGS": f"-F {config} -o ControlMaster=no -o ControlPath=none -o ControlPersist=no",
           "ANSIBLE_HOST_KEY_CHECKING": "True", "ANSIBLE_GATHERING": "explicit", "ANSIBLE_PIPELINING": "True",
           "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_LOCAL_TEMP": str(inventory.parent / "ansible-tmp"), "ANSIBLE_DEPRECATION_WARNINGS": "False"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([str(ansible), "all", "-o", "-i", str(inventory), "-f", str(forks), *module],
                          capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    # One line per host with -o: "host | SUCCESS => {...}" or "host | CHANGED | rc=0 | ...".
    ok = sum(1 for line in proc.stdout.splitlines() if " | SUCCESS" in line or " | CHANGED" in line)
    failed = sum(1 for line in proc.stdout.splitlines() if " | FAILED" in line or " | UNREACHABLE" in line)
    return {"wall": wall, "cpu": cpu, "ok": ok, "failed": failed, "rc": proc.returncode,
            "stderr": proc.stderr.strip()[-300:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50,200")
    parser.add_argument("--forks", type=int, default=16, help="readiness --workers and ansible -f (default 16)")
    parser.add_argument("--no-ansible", action="store_true")
    parser.add_argument("--ansible-setup-sizes", default="50",
                        help="sizes at which `-m setup` runs too (slow: it runs Python on every host)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        spec = json.loads(args.child)
        print(json.dumps(scan_child(Path(spec["config"]), spec["hosts"], spec["workers"])))
        return

    sizes = [int(s) for s in args.sizes.split(",")]
    setup_sizes = {int(s) for s in args.ansible_setup_sizes.split(",") if s}
    ansible = None if args.no_ansible else ensure_ansible()
    cpus = os.cpu_count() or 1
    print(f"bench_ssh: {cpus} CPUs, forks/workers {args.forks}, OpenSSH sshd on 127.0.0.1, "
          f"{PORTS_PER_SSHD} ports per sshd; python {sys.version.split()[0]}")
    lab = SshLab()
    try:
        biggest = max(sizes)
        names: list[str] = []
        servers = []
        for first in range(0, biggest, PORTS_PER_SSHD):
            ports = [free_port() for _ in range(min(PORTS_PER_SSHD, biggest - first))]
            extra = "".join(f"Port {p}\n" for p in ports[1:])
            host = lab.start(f"s{first:03d}", port=ports[0], extra=extra)
            servers.append(host)
            for index, port in enumerate(ports):
                name = f"host-{first + index + 1:03d}"
                host.port = port
                lab.trust(host)
                lab.add_alias(name, host)
                names.append(name)
        work = lab.dir
        previous: tuple[int, float] | None = None
        print(f"load average before: {os.getloadavg()[0]:.1f} (other work on this machine skews every figure)")
        for n in sizes:
            hosts = names[:n]
            sshd_before = sum(proc_cpu(s.process.pid) for s in servers)
            child = subprocess.run([sys.executable, __file__, "--child", json.dumps(
                {"config": str(lab.ssh_config), "hosts": hosts, "workers": args.forks})],
                capture_output=True, text=True, check=False)
            if child.returncode != 0:
                print(child.stderr)
                raise SystemExit(f"the readiness child failed at N={n}")
            ours = json.loads(child.stdout.strip().splitlines()[-1])
            server_cpu = sum(proc_cpu(s.process.pid) for s in servers) - sshd_before
            per_server = server_cpu / n
            per_client = ours["cpu"] / n
            ceiling = cpus / per_server
            shared_ceiling = cpus / (per_server + per_client)
            rate = n / ours["wall"]
            print(f"\nN={n} hosts")
            print(f"  readiness: wall {ours['wall']:.2f} s = {rate:.1f} hosts/s; client CPU {per_client * 1000:.1f} "
                  f"ms/host (SSH + parse + judge + report entry, one-time warm-up included); peak RSS "
                  f"{ours['maxrss_kb'] / 1024:.1f} MiB; statuses {ours['statuses']}"
                  f"{'; errors ' + str(ours['errors']) if ours['errors'] else ''}")
            if previous is not None:
                marginal = (ours["cpu"] - previous[1]) / (n - previous[0])
                print(f"  readiness: marginal client CPU from N={previous[0]} to N={n}: {marginal * 1000:.1f} ms/host")
            previous = (n, ours["cpu"])
            print(f"  sshd side: {per_server * 1000:.1f} ms CPU/host (sshd + probe) -> ceiling {ceiling:.1f} hosts/s "
                  f"({cpus} CPUs / sshd CPU); wall = {rate / ceiling * 100:.0f} % of it; with the client on the "
                  f"same CPUs the ceiling is {shared_ceiling:.1f} hosts/s -> {rate / shared_ceiling * 100:.0f} %")
            if ansible is None:
                continue
            inventory = work / f"ansible-{n}.ini"
            inventory.write_text("[all]\n" + "".join(f"{h}\n" for h in hosts) +
                                 "[all:vars]\nansible_python_interpreter=/usr/bin/python3\n")
            runs = [("raw", ["-m", "raw", "-a", "true"])]
            if n in setup_sizes:
                runs.insert(0, ("setup", ["-m", "setup"]))
            for label, module in runs:
                peer = run_ansible(ansible, inventory, lab.ssh_config, args.forks, module)
                print(f"  ansible -m {label:<5}: wall {peer['wall']:.2f} s, client CPU {peer['cpu'] / n * 1000:.1f} "
                      f"ms/host, ok {peer['ok']}/{n}{' rc ' + str(peer['rc']) if peer['rc'] else ''}"
                      f"{' ' + peer['stderr'] if peer['failed'] else ''}")
                print(f"    ratio: readiness is {peer['wall'] / ours['wall']:.1f}x faster in wall time, uses "
                      f"{peer['cpu'] / max(ours['cpu'], 1e-9):.1f}x less client CPU per host")
        print(f"\nload average after: {os.getloadavg()[0]:.1f}")
    finally:
        lab.close()
        shutil.rmtree(ROOT / "bench" / "__pycache__", ignore_errors=True)


if __name__ == "__main__":
    main()
