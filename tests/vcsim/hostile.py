"""Hostile vSphere peers on 127.0.0.1: endpoints that stall, trickle or lie, and a proxy that corrupts answers.

`HostileServer` is our own small server that behaves badly in one chosen way (accepts TCP and never speaks
TLS, completes TLS and never answers, trickles a never-ending answer, answers the version document and then
stalls or trickles the SOAP calls, answers HTML).  `RewritingProxy` sits between readiness and the govmomi
simulator (TLS on both sides) and rewrites the answers to RetrievePropertiesEx with a function, so the real
login and session stay intact while the inventory answer turns hostile; it also keeps the answers it saw, the
seed corpus of the property-based parser tests.  Both stop when the test ends: every blocking wait in them
is bounded by `stop`.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
from collections.abc import Callable
from pathlib import Path

VERSIONS_XML = (b'<?xml version="1.0" encoding="UTF-8"?><namespaces version="1.0"><namespace><name>urn:vim25</name>'
                b"<version>6.0</version><priorVersions><version>5.5</version></priorVersions></namespace></namespaces>")

MODES = ("tcp-silent", "tls-silent", "trickle", "soap-stall", "soap-trickle", "html")


class _Listener:
    """A TLS-capable listening socket served by one thread per connection until stop()."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(str(cert), str(key))
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        self.connections = 0

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def start(self) -> None:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self.threads.append(thread)

    def _accept(self) -> None:
        while not self.stop_event.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.settimeout(0.2)
            thread = threading.Thread(target=self._serve_guarded, args=(conn,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def _serve_guarded(self, conn: socket.socket) -> None:
        try:
            self.serve(conn)
        except OSError:
            pass  # the client gave up: that is what these peers are for
        finally:
            conn.close()

    def serve(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def _idle(self, seconds: float = 60.0) -> None:
        self.stop_event.wait(seconds)

    def _tls(self, conn: socket.socket) -> ssl.SSLSocket:
        conn.settimeout(5)
        tls = self.context.wrap_socket(conn, server_side=True)
        tls.settimeout(0.2)
        return tls

    def _request(self, tls: ssl.SSLSocket) -> tuple[str, dict[str, str], bytes]:
        """Read one HTTP request: (request line, headers, body by Content-Length); ('', {}, b'') at EOF."""
        data = b""
        while b"\r\n\r\n" not in data and not self.stop_event.is_set():
            try:
                chunk = tls.recv(65536)
            except (TimeoutError, ssl.SSLWantReadError):
                continue
            if not chunk:
                return "", {}, b""
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip()] = value.strip()
        length = int(next((v for k, v in headers.items() if k.lower() == "content-length"), "0"))
        while len(body) < length and not self.stop_event.is_set():
            try:
                body += tls.recv(65536)
            except (TimeoutError, ssl.SSLWantReadError):
                continue
        return lines[0], headers, body

    def stop(self) -> None:
        self.stop_event.set()
        self.sock.close()
        for thread in self.threads:
            thread.join(timeout=2)


class HostileServer(_Listener):
    """One misbehaviour (MODES) on every connection."""

    def __init__(self, mode: str, cert: Path, key: Path) -> None:
        if mode not in MODES:
            raise ValueError(mode)
        super().__init__(cert, key)
        self.mode = mode

    def serve(self, conn: socket.socket) -> None:
        if self.mode == "tcp-silent":  # accepts TCP, reads the ClientHello, never answers it
            self._idle()
            return
        tls = self._tls(conn)
        line, _, _ = self._request(tls)
        if self.mode == "tls-silent" or not line:
            self._idle()
        elif self.mode == "html":
            page = b"<html><body>Welcome to nginx</body></html>"
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n%s"
                        % (len(page), page))
        elif self.mode == "trickle" or (line.startswith("POST") and self.mode == "soap-trickle"):
            self._trickle(tls)
        elif line.startswith("GET"):
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: %d\r\n\r\n%s"
                        % (len(VERSIONS_XML), VERSIONS_XML))
            if self._request(tls)[0]:  # a keep-alive request after the version document: stall on it
                self._idle()
        else:  # soap-stall: the SOAP call is read and never answered
            self._idle()

    def _trickle(self, tls: ssl.SSLSocket) -> None:
        """Headers, then one byte of a body that never ends every 0.1 s: per-read timeouts never fire."""
        tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 100000000\r\n\r\n<")
        while not self.stop_event.wait(0.1):
            tls.sendall(b" ")


class RewritingProxy(_Listener):
    """TLS in front of the simulator; answers to RetrievePropertiesEx pass through `rewrite` (and are kept)."""

    def __init__(self, upstream_port: int, upstream_ca: Path, cert: Path, key: Path,
                 rewrite: Callable[[bytes], bytes] = lambda body: body) -> None:
        super().__init__(cert, key)
        self.upstream_port = upstream_port
        self.upstream_context = ssl.create_default_context(cafile=str(upstream_ca))
        self.rewrite = rewrite
        self.seen: list[bytes] = []  # RetrievePropertiesEx answers as the simulator sent them

    def serve(self, conn: socket.socket) -> None:
        tls = self._tls(conn)
        upstream = http.client.HTTPSConnection("127.0.0.1", self.upstream_port, context=self.upstream_context,
                                               timeout=10)
        try:
            while not self.stop_event.is_set():
                line, headers, body = self._request(tls)
                if not line:
                    return
                method, path, _ = line.split(" ", 2)
                forward = {k: v for k, v in headers.items() if k.lower() in ("cookie", "soapaction", "content-type")}
                upstream.request(method, path, body=body or None, headers=forward)
                answer = upstream.getresponse()
                payload = answer.read()
                if b"RetrievePropertiesEx" in body and b"ContinueRetrievePropertiesEx" not in body:
                    self.seen.append(payload)
                    payload = self.rewrite(payload)
                extra = "".join(f"{k}: {v}\r\n" for k, v in answer.getheaders()
                                if k.lower() not in ("content-length", "transfer-encoding", "connection"))
                tls.sendall(f"HTTP/1.1 {answer.status} {answer.reason}\r\n{extra}Content-Length: {len(payload)}"
                            f"\r\n\r\n".encode("latin-1") + payload)
        finally:
            upstream.close()
