"""Estate scan over SSH: client CPU per host against bare paramiko, with few and many listening sockets, and Ansible.

Not a test: it prints figures.  The "hosts" are sshd listeners on 127.0.0.1 (Debian's /usr/sbin/sshd, up to
16 ports per process, each port a distinct host name in an ssh_config), serving this Debian machine, so the
full probe really runs on the far side.  Each measurement is REPEATS fresh child processes (median and
spread), each scanning WARM_UP hosts first (imports, rule compilation, first key exchange: start-up, not
counted), then the measured hosts:

* readiness: scan + judge + report entry per host; client CPU (user+sys of the child) per host, wall;
* the peer, bare paramiko running the same probe (probe.sh and the network probe on the same remote shell)
  with the same workers, known_hosts and key read once: the floor any paramiko-based scanner pays;
* the sshd side (every sshd and the probes it ran) from /proc/PID/stat, per host;
* the same again with --listeners more listening sockets opened on this machine (every loopback "host"
  reports this machine's listeners, as a busy server would its own); the count is printed;
* `ansible all -m setup` on --ansible-hosts hosts, wall against a readiness scan of them, when bench/.venv
  has ansible-core (--install-ansible creates it; otherwise "peer not available").

Then the goal table (bench/goals.py).  Run as root (sshd, a login user):
    .venv/bin/python bench/bench_ssh.py [--hosts 100] [--repeats 3] [--listeners 1000] [--forks 16]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.goals import Goal, print_goals, spread  # noqa: E402
from tests.sshd_hosts import SshLab, free_port  # noqa: E402

BENCH_VENV = ROOT / "bench" / ".venv"
PORTS_PER_SSHD = 16  # OpenSSH listens on at most 16 sockets per process
TICKS = os.sysconf("SC_CLK_TCK")
WARM_UP = 2  # hosts scanned first in each child, not counted: imports, rule compilation, first key exchange
GOAL_CPU_MS, GOAL_ANSIBLE = 8.0, 8.0


def _settings(config: Path) -> Any:
    from readiness.settings import NetworkSettings, ScanSettings

    return ScanSettings(ssh_config=config, connect_timeout_s=30, command_timeout_s=120,
                        network=NetworkSettings(endpoints=[], outbound_ports=[], port_check_host="127.0.0.1"))


def scan_child(config: Path, hosts: list[str], workers: int) -> dict[str, Any]:
    """In a fresh process: scan + judge + report entries of `hosts`, after a warm-up scan of WARM_UP other
    hosts (imports, rule compilation, the first key exchange: start-up, not per-host cost)."""
    from readiness.engine import judge_target
    from readiness.report import target_entry
    from readiness.rulepack import default_rules
    from readiness.scan import scan
    from readiness.targets import parse_target

    rules = list(default_rules())
    settings = _settings(config)

    def run(names: list[str]) -> tuple[dict[str, int], list[str]]:
        statuses: dict[str, int] = {}
        errors = []
        for facts in scan([parse_target(f"ssh://{h}") for h in names], settings, rules, workers=workers):
            entry = target_entry(facts, judge_target(facts, rules, [], []))
            statuses[entry["status"]] = statuses.get(entry["status"], 0) + 1
            if facts.error:
                errors.append(facts.error)
        return statuses, errors

    run(hosts[-WARM_UP:])
    cpu0, wall0 = time.process_time(), time.perf_counter()
    statuses, errors = run(hosts)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return {"wall": wall, "cpu": cpu, "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "statuses": statuses, "errors": errors[:3]}


def bare_child(config: Path, hosts: list[str], workers: int) -> dict[str, Any]:
    """The peer: bare paramiko running the same probe (probe.sh and the network probe, on stdin of the same
    remote shell), reading its output and doing nothing else: no parsing, judging, ssh_config lookups,
    known_hosts or key file reads (all done before the clock starts).  Same workers, same warm-up."""
    from concurrent.futures import ThreadPoolExecutor

    import paramiko

    from readiness.checks.linux import netprobe
    from readiness.checks.linux.collector import probe_script
    from readiness.transports.ssh import REMOTE_SHELL

    settings = _settings(config)
    net = netprobe.plan(settings, False, None)
    script = (probe_script() + (net.script if net else "")).encode()
    ssh_config = paramiko.SSHConfig.from_path(str(config))
    resolved = {h: ssh_config.lookup(h) for h in hosts}
    # The floor: known_hosts and the key are read once, not per host (readiness caches both too).
    first = resolved[hosts[0]]
    known = paramiko.HostKeys(first["userknownhostsfile"][0] if isinstance(first["userknownhostsfile"], list)
                              else first["userknownhostsfile"])
    pkey = paramiko.PKey.from_path(first["identityfile"][0])

    def probe(name: str) -> int:
        cfg = resolved[name]
        client = paramiko.SSHClient()
        client._host_keys = known  # shared, read-only here
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        try:
            client.connect(cfg["hostname"], port=int(cfg["port"]), username=cfg["user"], pkey=pkey,
                           allow_agent=False, look_for_keys=False, timeout=30)
            stdin, stdout, _ = client.exec_command(REMOTE_SHELL)
            stdin.write(script)
            stdin.channel.shutdown_write()
            return len(stdout.read())
        finally:
            client.close()

    def run(names: list[str]) -> list[int]:
        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(probe, names))

    run(hosts[-WARM_UP:])
    cpu0, wall0 = time.process_time(), time.perf_counter()
    sizes = run(hosts)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return {"wall": wall, "cpu": cpu, "bytes_per_host": sum(sizes) / len(sizes)}


def listening_sockets() -> int:
    """Listening TCP sockets on this machine (state 0A in /proc/net/tcp and tcp6): every probed "host" here
    reports them all, as they share this machine's network namespace."""
    count = 0
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            count += sum(1 for line in Path(name).read_text().splitlines()[1:] if line.split()[3] == "0A")
    return count


def child(kind: str, config: Path, hosts: list[str], workers: int) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(
        {"kind": kind, "config": str(config), "hosts": hosts, "workers": workers})],
        capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        print(proc.stderr)
        raise SystemExit(f"the {kind} child failed with {len(hosts)} hosts")
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def proc_cpu(pid: int) -> float:
    """utime+stime+cutime+cstime of a process, in seconds (children count once reaped)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / TICKS


def ensure_ansible(install: bool) -> Path | None:
    """ansible from bench/.venv; created (ansible-core from PyPI) only with --install-ansible."""
    ansible = BENCH_VENV / "bin" / "ansible"
    if ansible.exists() or not install:
        return ansible if ansible.exists() else None
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


def start_hosts(lab: SshLab, count: int) -> tuple[list[str], list[Any]]:
    names: list[str] = []
    servers = []
    for first in range(0, count, PORTS_PER_SSHD):
        ports = [free_port() for _ in range(min(PORTS_PER_SSHD, count - first))]
        extra = "".join(f"Port {p}\n" for p in ports[1:])
        host = lab.start(f"s{first:03d}", port=ports[0], extra=extra)
        servers.append(host)
        for index, port in enumerate(ports):
            name = f"host-{first + index + 1:03d}"
            host.port = port
            lab.trust(host)
            lab.add_alias(name, host)
            names.append(name)
    return names, servers


def measure(lab: SshLab, servers: list[Any], hosts: list[str], args: argparse.Namespace, label: str
            ) -> dict[str, list[float]]:
    """REPEATS fresh readiness children and REPEATS bare-paramiko children: client CPU per host, wall, sshd."""
    result: dict[str, list[float]] = {"ours": [], "bare": [], "wall": [], "bare_wall": [], "server": []}
    for _ in range(args.repeats):
        before = sum(proc_cpu(s.process.pid) for s in servers)
        ours = child("scan", lab.ssh_config, hosts, args.forks)
        result["server"].append((sum(proc_cpu(s.process.pid) for s in servers) - before) / len(hosts) * 1000)
        if ours["errors"]:
            print(f"  errors: {ours['errors']}")
        result["ours"].append(ours["cpu"] / len(hosts) * 1000)
        result["wall"].append(ours["wall"])
        bare = child("bare", lab.ssh_config, hosts, args.forks)
        result["bare"].append(bare["cpu"] / len(hosts) * 1000)
        result["bare_wall"].append(bare["wall"])
    print(f"{label}: readiness client CPU {spread(result['ours'])} ms/host, wall {spread(result['wall'])} s; "
          f"bare paramiko {spread(result['bare'])} ms/host, wall {spread(result['bare_wall'])} s; "
          f"sshd + probe {spread(result['server'])} ms CPU/host", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=100, help="hosts for client CPU per host (default 100)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each measurement (default 3)")
    parser.add_argument("--forks", type=int, default=16, help="readiness --workers and ansible -f (default 16)")
    parser.add_argument("--listeners", type=int, default=1000,
                        help="extra listening sockets opened for the second measurement (default 1000; 0: skip)")
    parser.add_argument("--ansible-hosts", type=int, default=50, help="hosts of the ansible -m setup comparison")
    parser.add_argument("--install-ansible", action="store_true",
                        help="create bench/.venv with ansible-core from PyPI when it is missing")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        spec = json.loads(args.child)
        run = scan_child if spec["kind"] == "scan" else bare_child
        print(json.dumps(run(Path(spec["config"]), spec["hosts"], spec["workers"])))
        return

    ansible = ensure_ansible(args.install_ansible)
    cpus = os.cpu_count() or 1
    print(f"bench_ssh: {cpus} CPUs, {args.hosts} hosts, workers {args.forks}, {args.repeats} repeats, OpenSSH sshd "
          f"on 127.0.0.1 ({PORTS_PER_SSHD} ports per sshd); python {sys.version.split()[0]}; "
          f"load average {os.getloadavg()[0]:.1f} (other work on this machine skews every figure)")
    lab = SshLab()
    held: list[socket.socket] = []
    try:
        names, servers = start_hosts(lab, max(args.hosts, args.ansible_hosts) + WARM_UP)
        hosts = names[:args.hosts]
        sockets0 = listening_sockets()
        plain = measure(lab, servers, hosts, args, f"{sockets0} listening sockets on this machine")
        crowded: dict[str, list[float]] = {}
        if args.listeners:
            for _ in range(args.listeners):
                sock = socket.socket()
                sock.bind(("127.0.0.1", 0))
                sock.listen(1)
                held.append(sock)
            sockets1 = listening_sockets()
            crowded = measure(lab, servers, hosts, args, f"{sockets1} listening sockets on this machine")
            for sock in held:
                sock.close()
            held.clear()
        goals = [Goal(f"SSH {args.hosts} hosts, {sockets0} listening sockets: client CPU/host (start-up excluded)",
                      spread(plain["ours"]) + " ms", spread(plain["bare"]) + " ms bare paramiko",
                      spread([o / b for o, b in zip(plain["ours"], plain["bare"], strict=True)], "{:.1f}x"),
                      f"<= {GOAL_CPU_MS:g} ms", statistics.median(plain["ours"]) <= GOAL_CPU_MS)]
        if crowded:
            goals.append(Goal(f"SSH {args.hosts} hosts, {sockets1} listening sockets: client CPU/host",
                              spread(crowded["ours"]) + " ms", spread(crowded["bare"]) + " ms bare paramiko",
                              spread([o / b for o, b in zip(crowded["ours"], crowded["bare"], strict=True)],
                                     "{:.1f}x"),
                              f"<= {GOAL_CPU_MS:g} ms, same as with {sockets0}",
                              statistics.median(crowded["ours"]) <= GOAL_CPU_MS))
        goals.append(ansible_goal(ansible, lab, names[:args.ansible_hosts], args.forks))
        print_goals(goals)
        print(f"\nload average after: {os.getloadavg()[0]:.1f}")
    finally:
        for sock in held:
            sock.close()
        lab.close()
        shutil.rmtree(ROOT / "bench" / "__pycache__", ignore_errors=True)


def ansible_goal(ansible: Path | None, lab: SshLab, hosts: list[str], forks: int) -> Goal:
    """Wall of a readiness scan of the hosts against `ansible all -m setup` on them (fresh connections)."""
    name = f"SSH {len(hosts)} hosts: wall against ansible -m setup"
    goal = f">= {GOAL_ANSIBLE:g}x"
    if ansible is None:
        print("ansible -m setup: peer not available (no bench/.venv/bin/ansible; --install-ansible creates it)")
        return Goal(name, "-", "peer not available", "-", goal, None)
    ours, peers = [], []
    inventory = lab.dir / f"ansible-{len(hosts)}.ini"
    inventory.write_text("[all]\n" + "".join(f"{h}\n" for h in hosts) +
                         "[all:vars]\nansible_python_interpreter=/usr/bin/python3\n")
    for _ in range(3):
        ours.append(child("scan", lab.ssh_config, hosts, forks)["wall"])
        peer = run_ansible(ansible, inventory, lab.ssh_config, forks, ["-m", "setup"])
        if peer["ok"] != len(hosts):
            print(f"ansible -m setup: ok {peer['ok']}/{len(hosts)} rc {peer['rc']} {peer['stderr']}")
        peers.append(peer["wall"])
    ratios = [p / o for p, o in zip(sorted(peers), sorted(ours), strict=True)]
    return Goal(name, spread(ours) + " s", spread(peers) + " s ansible", spread(ratios, "{:.1f}x"), goal,
                statistics.median(ratios) >= GOAL_ANSIBLE)


if __name__ == "__main__":
    main()
