"""A real ``rulebook serve`` answers what gunicorn itself refuses (a request line over its
limit) and a chunked body over the size limit as problem+json, like every API error (issue 12:
13)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from rules.store import Database, accounts
from tests.serving import serving

PROBLEM = "application/problem+json"


def _exchange(port: int, request: bytes, body_chunks: int = 0, chunk: bytes = b"") -> bytes:
    """Send ``request`` (and ``body_chunks`` chunks of ``chunk``, chunked), read the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        try:
            frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
            for _ in range(body_chunks):
                sock.sendall(frame)
            if body_chunks:
                sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered before reading everything: read its answer
        answer = b""
        while part := sock.recv(65536):
            answer += part
    return answer


def _parsed(answer: bytes) -> tuple[int, dict[str, str], dict[str, object]]:
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (h.split(":", 1) for h in lines[1:])}
    return int(lines[0].split()[1]), headers, json.loads(body)


def test_gunicorns_own_refusals_and_a_chunked_body_over_the_limit_are_problems(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'rulebook.db'}"
    with serving(url, tmp_path / "home", workers=1) as (_, port):
        db = Database(url)
        with db.session() as s:
            _, token = accounts.create_api_key(s, "limits", ["decide"], "cli:test")
        db.dispose()

        long_line = b"GET /api/v1/rulesets?x=" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
        status, headers, body = _parsed(_exchange(port, long_line))
        assert status == 414
        assert headers["content-type"] == PROBLEM
        assert body["status"] == 414
        assert "shorter address" in str(body["detail"])

        post = (
            b"POST /api/v1/rulesets/mortgage-approval/decisions HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
            + f"Authorization: Bearer {token}\r\nConnection: close\r\n\r\n".encode()
        )
        chunk = b" " * (1024 * 1024)  # 17 MiB of whitespace: JSON, but over the 16 MiB limit
        status, headers, body = _parsed(_exchange(port, post, body_chunks=17, chunk=chunk))
        assert status == 413, body
        assert headers["content-type"] == PROBLEM
        assert body["status"] == 413
