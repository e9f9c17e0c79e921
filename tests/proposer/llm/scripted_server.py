"""A scripted OpenAI-compatible chat-completions server for the LLM proposer's tests.

It listens on 127.0.0.1 (a free port), serves ``POST /v1/chat/completions`` from a script of
turns, and records every request body it received, so a test drives the real litellm client
over real HTTP and then asserts on exactly what the model was sent::

    with ScriptedServer(
        tool_call("read_ruleset", {}),
        tool_call("submit_proposal", {...}),
        text("done"),
    ) as server:
        settings = LlmSettings(model="openai/scripted", api_base=server.api_base, api_key="k")
        result = run_llm_proposer(db, NAME, actor="cli:t", settings=settings)
    assert len(server.requests) == 3

A turn is a callable of the request's JSON body returning a :class:`Reply`; the helpers
below build the usual ones (assistant text, tool calls, malformed arguments, HTTP errors, a
slow answer, an invalid body). Turns are served in order, whichever model a request names
(``server.requests[i]["model"]`` tells which one was asked); once the script is exhausted
every request gets an HTTP 500 saying so, which the test then sees as an unexpected call.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = [
    "Reply",
    "ScriptedServer",
    "Turn",
    "error",
    "invalid_body",
    "malformed_call",
    "slow",
    "text",
    "tool_call",
    "tool_calls",
]

USAGE = (100, 20)  # prompt and completion tokens of a reply unless a turn says otherwise


@dataclass(frozen=True)
class Reply:
    """One HTTP answer: a status, a JSON body (or raw bytes), an optional delay first."""

    status: int = 200
    body: Mapping[str, Any] | bytes = field(default_factory=dict)
    delay: float = 0.0
    headers: Mapping[str, str] = field(default_factory=dict)


Turn = Callable[[dict[str, Any]], Reply]
_ids = itertools.count(1)


def _completion(
    request: Mapping[str, Any], message: dict[str, Any], finish: str, usage: tuple[int, int]
) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{next(_ids)}",
        "object": "chat.completion",
        "created": 1_767_225_600,
        "model": request.get("model", "scripted"),
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {
            "prompt_tokens": usage[0],
            "completion_tokens": usage[1],
            "total_tokens": usage[0] + usage[1],
        },
    }


def text(content: str, *, usage: tuple[int, int] = USAGE) -> Turn:
    """The assistant answers in text and calls no tool (the model ends the run)."""

    def turn(request: dict[str, Any]) -> Reply:
        message = {"role": "assistant", "content": content}
        return Reply(body=_completion(request, message, "stop", usage))

    return turn


def tool_calls(*calls: tuple[str, Mapping[str, Any] | str], usage: tuple[int, int] = USAGE) -> Turn:
    """The assistant calls these tools; arguments given as a mapping are JSON-encoded, a
    string is sent as is (malformed JSON included)."""

    def turn(request: dict[str, Any]) -> Reply:
        items = [
            {
                "id": f"call_{next(_ids)}",
                "type": "function",
                "function": {
                    "name": name,
                    "arguments": args if isinstance(args, str) else json.dumps(args),
                },
            }
            for name, args in calls
        ]
        message = {"role": "assistant", "content": None, "tool_calls": items}
        return Reply(body=_completion(request, message, "tool_calls", usage))

    return turn


def tool_call(
    name: str, arguments: Mapping[str, Any] | str, *, usage: tuple[int, int] = USAGE
) -> Turn:
    """The assistant calls one tool."""
    return tool_calls((name, arguments), usage=usage)


def malformed_call(name: str = "read_ruleset", arguments: str = '{"oops": ') -> Turn:
    """The assistant calls ``name`` with arguments that are not valid JSON."""
    return tool_calls((name, arguments))


def error(status: int, message: str = "scripted failure") -> Turn:
    """An HTTP error (429, 500 ...) with an OpenAI-style error body."""

    def turn(request: dict[str, Any]) -> Reply:
        body = {"error": {"message": message, "type": "scripted", "code": str(status)}}
        return Reply(status=status, body=body)

    return turn


def slow(seconds: float, then: Turn) -> Turn:
    """``then``'s answer, sent after ``seconds`` (cut short when the server stops)."""

    def turn(request: dict[str, Any]) -> Reply:
        reply = then(request)
        return Reply(reply.status, reply.body, seconds, reply.headers)

    return turn


def invalid_body(raw: bytes = b"<html>not json</html>") -> Turn:
    """A 200 answer whose body is not a chat completion."""
    return lambda request: Reply(body=raw, headers={"Content-Type": "application/json"})


class ScriptedServer:
    """The server, as a context manager; ``requests`` holds every request body received."""

    def __init__(self, *turns: Turn) -> None:
        self._turns = list(turns)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def remaining(self) -> int:
        """Turns not served yet."""
        return len(self._turns)

    def models(self) -> list[str]:
        """The model each request asked for, in order."""
        return [str(r.get("model")) for r in self.requests]

    def add(self, *turns: Turn) -> None:
        with self._lock:
            self._turns.extend(turns)

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def _next(self, body: dict[str, Any], path: str) -> Reply:
        with self._lock:
            self.requests.append(body)
            self.paths.append(path)
            turn = self._turns.pop(0) if self._turns else None
        if turn is None:
            return error(500, "the script is exhausted: this request was not expected")(body)
        return turn(body)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: tests assert on ``requests``, not on a log."""

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"_unparsed": raw.decode("utf-8", "replace")}
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    with server._lock:
                        server.requests.append(body)
                        server.paths.append(self.path)
                    self._send(Reply(404, {"error": {"message": f"no route {self.path}"}}))
                    return
                reply = server._next(body, self.path)
                if reply.delay and server._stopping.wait(reply.delay):
                    return
                self._send(reply)

            def _send(self, reply: Reply) -> None:
                data = (
                    reply.body
                    if isinstance(reply.body, bytes)
                    else json.dumps(reply.body).encode("utf-8")
                )
                try:
                    self.send_response(reply.status)
                    # Connection: close, so no keep-alive socket outlives the server: litellm
                    # keeps its HTTP clients cached, and a socket to a stopped server left
                    # open is a ResourceWarning (an error under pytest) in a later test.
                    headers = {
                        "Content-Type": "application/json",
                        "Connection": "close",
                        **reply.headers,
                    }
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout): nothing to answer

        return Handler
