"""Real network peers on loopback for the network-check tests.

HTTPS servers (Python's http.server wrapped in TLS from our own CA), dnsmasq
from Debian as the DNS server, and ports that are really open or closed.
Everything binds to 127.0.0.0/8 only.
"""

from __future__ import annotations

import email.utils
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.pki import Issued


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def closed_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on (bound once, then released)."""
    return free_port(host)


class _Handler(BaseHTTPRequestHandler):
    status = 200
    body = b"ok"
    skew_s = 0.0

    def do_GET(self) -> None:
        self.send_response(self.status)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def date_time_string(self, timestamp: float | None = None) -> str:
        return email.utils.formatdate(time.time() + self.skew_s, usegmt=True)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def https_server(issued: Issued | None, *, host: str = "127.0.0.1", port: int = 0, status: int = 200,
                 body: bytes = b"ok", skew_s: float = 0.0) -> Iterator[int]:
    """Serve GET on host:port (TLS when a certificate is given); yields the port."""
    handler = type("Handler", (_Handler,), {"status": status, "body": body, "skew_s": skew_s})
    server = ThreadingHTTPServer((host, port), handler)
    if issued is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(issued.cert, issued.key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def tcp_listener(host: str, port: int) -> Iterator[int]:
    """A plain socket listening on host:port (accepts, never speaks)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(16)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


@contextmanager
def dnsmasq(records: dict[str, str], workdir: Path) -> Iterator[str]:
    """dnsmasq on 127.0.0.1:PORT answering only `records` (name -> IPv4); yields "127.0.0.1:PORT"."""
    binary = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
    port = free_port()
    args = [binary, "--keep-in-foreground", "--no-resolv", "--no-hosts", "--no-poll", f"--port={port}",
            "--listen-address=127.0.0.1", "--bind-interfaces", f"--pid-file={workdir / 'dnsmasq.pid'}",
            "--user=root", "--log-facility=-"]
    args += [f"--host-record={name},{address}" for name, address in records.items()]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"dnsmasq exited: {proc.stderr.read().decode() if proc.stderr else ''}")
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                try:
                    probe.bind(("127.0.0.1", port))
                except OSError:
                    break  # dnsmasq holds the port: it is up
            time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=5)


@contextmanager
def tinyproxy(workdir: Path, *, user: str, password: str, deny: list[str]) -> Iterator[str]:
    """tinyproxy from Debian on 127.0.0.1, with Basic auth and a deny filter; yields its URL with the user name
    only (the password goes through READINESS_PROXY_PASSWORD, never a command line)."""
    port = free_port()
    filters = workdir / "tinyproxy.filter"
    filters.write_text("".join(f"{pattern}\n" for pattern in deny))
    config = workdir / "tinyproxy.conf"
    config.write_text(
        f"Port {port}\nListen 127.0.0.1\nTimeout 10\nAllow 127.0.0.1\nMaxClients 20\nLogLevel Critical\n"
        f"PidFile \"{workdir / 'tinyproxy.pid'}\"\nBasicAuth {user} {password}\n"
        f"Filter \"{filters}\"\nFilterDefaultDeny No\nFilterExtended On\n")
    binary = shutil.which("tinyproxy") or "/usr/bin/tinyproxy"
    proc = subprocess.Popen([binary, "-d", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"tinyproxy exited: {proc.stderr.read().decode() if proc.stderr else ''}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"http://{user}@127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=5)
