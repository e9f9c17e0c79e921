"""A small HTTP proxy in front of a live server that fails on cue, to test the client's retries
against the real API: each request takes the next fault from a script.

Faults: ``"503"`` answers a problem+json 503 (with ``Retry-After`` when ``retry_after`` is
set) without forwarding; ``"drop"`` forwards the request, lets the server act on it, then
closes the connection without answering (an answer lost on the way back); ``"close"`` closes
the connection without forwarding. ``None`` (or an empty script) forwards normally.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "host", "content-length"}


@dataclass
class Script:
    faults: deque[str | None] = field(default_factory=deque)
    retry_after: str | None = None
    seen: list[tuple[str, str, str | None]] = field(default_factory=list)
    forwarded: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next(self, method: str, path: str) -> str | None:
        with self.lock:
            fault = self.faults.popleft() if self.faults else None
            self.seen.append((method, path, fault))
            return fault


class _Handler(BaseHTTPRequestHandler):
    server: _Proxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads ``Script.seen`` instead."""

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        upstream = http.client.HTTPConnection("127.0.0.1", self.server.upstream, timeout=30)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            upstream.request(self.command, self.path, body=body or None, headers=headers)
            response = upstream.getresponse()
            answer = response.read()
            kept = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP]
            with self.server.script.lock:
                self.server.script.forwarded += 1
            return response.status, kept, answer
        finally:
            upstream.close()

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self) -> None:
        body = self._body()
        fault = self.server.script.next(self.command, self.path)
        if fault == "503":
            problem = {"type": "urn:rulebook:problem:unavailable", "title": "Service Unavailable"}
            problem |= {"status": 503, "detail": "try later (proxy)", "errors": []}
            headers = [("Content-Type", "application/problem+json")]
            if self.server.script.retry_after is not None:
                headers.append(("Retry-After", self.server.script.retry_after))
            self._send(503, headers, json.dumps(problem).encode())
            return
        if fault == "close":
            self.close_connection = True
            return
        answer = self._forward(body)
        if fault == "drop":
            self.close_connection = True
            return
        self._send(*answer)

    do_GET = do_POST = _handle


class _Proxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, upstream: int, script: Script) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.upstream = upstream
        self.script = script


@contextmanager
def proxy(upstream: int, faults: Iterable[str | None] = (), port: int = 0) -> Iterator[_Proxy]:
    """A proxy to ``127.0.0.1:upstream`` on ``port`` (0: a free one), failing as scripted."""
    server = _Proxy(port, upstream, Script(deque(faults)))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
