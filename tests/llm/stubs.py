"""Threaded HTTP stubs on 127.0.0.1 that speak each provider's wire format, for the real SDK clients.

A stub answers from a queue of scripted `Reply`s (then repeats `default`), records every request, and
can sleep before answering (timeouts). Error answers echo the key it was sent, as some real services
partly do, so tests can prove that nothing of it reaches a message or a log.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

Wire = Literal["anthropic", "openai", "ollama"]


@dataclass(frozen=True)
class Reply:
    status: int = 200
    text: str = ""  # the model's output, wrapped in the wire format's success body
    body: Any = None  # a raw JSON body instead (errors with a specific shape)
    delay_s: float = 0.0


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any

    @property
    def text(self) -> str:
        """Everything the client sent, as one string, for `in` checks."""
        return json.dumps(self.body)


@dataclass
class StubServer:
    wire: Wire
    default: Reply = field(default_factory=lambda: Reply(text="ok"))
    models: list[str] = field(default_factory=lambda: ["qwen2.5-coder:7b"])  # Ollama's /api/tags
    replies: deque[Reply] = field(default_factory=deque)
    requests: list[Recorded] = field(default_factory=list)
    # Standing answers by what the request says (a substring of its body), checked before the queue: a
    # request the queue's order cannot foresee (the UI drafts commands beside the reward) gets its own.
    answers: dict[str, Reply] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The base URL to configure: the OpenAI client expects the /v1 prefix in it, the others not."""
        root = f"http://127.0.0.1:{self.port}"
        return root + "/v1" if self.wire == "openai" else root

    def queue(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def chats(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST"]

    def start(self) -> StubServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _next(self, body: Any) -> Reply:
        sent = json.dumps(body)
        for marker, reply in self.answers.items():
            if marker in sent:
                return reply
        return self.replies.popleft() if self.replies else self.default


def dead_url(wire: Wire) -> str:
    """An address where nothing listens: a port bound and released, so connecting is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}" + ("/v1" if wire == "openai" else "")


def _success(wire: Wire, text: str, model: str) -> Any:
    if wire == "anthropic":
        return {
            "id": "msg_stub",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 10},
        }
    if wire == "openai":
        return {
            "id": "chatcmpl-stub",
            "object": "chat.completion",
            "created": 0,
            "model": model,
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
        }
    return {
        "model": model,
        "created_at": "2026-01-01T00:00:00Z",
        "message": {"role": "assistant", "content": text},
        "done": True,
        "done_reason": "stop",
    }


def _error(wire: Wire, status: int, key: str) -> Any:
    message = f"Incorrect API key provided: {key}" if status in (401, 403) else f"failure {status} for {key}"
    if wire == "anthropic":
        kind = {401: "authentication_error", 429: "rate_limit_error"}.get(status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": message}}
    if wire == "openai":
        return {"error": {"message": message, "type": "invalid_request_error", "code": None}}
    return {"error": message}


def _handler_for(stub: StubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            pass

        def _send(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

        def _record(self) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            headers = {k.lower(): v for k, v in self.headers.items()}
            stub.requests.append(Recorded(self.command, self.path, headers, body))
            return body

        def _key(self) -> str:
            auth = self.headers.get("x-api-key") or self.headers.get("Authorization") or ""
            return auth.removeprefix("Bearer ")

        def do_GET(self) -> None:
            self._record()
            if stub.wire == "ollama" and self.path == "/api/tags":
                models = [{"name": m, "model": m, "size": 1, "digest": "0"} for m in stub.models]
                self._send(200, {"models": models})
            elif stub.wire == "ollama" and self.path == "/api/version":
                self._send(200, {"version": "0.12.0"})
            elif self.path.startswith("/v1/models"):
                self._send(200, {"data": [{"id": "stub-model", "object": "model", "type": "model"}]})
            else:
                self._send(404, {"error": f"no route {self.path}"})

        def do_POST(self) -> None:
            body = self._record()
            routes = {"anthropic": "/v1/messages", "openai": "/v1/chat/completions", "ollama": "/api/chat"}
            if self.path != routes[stub.wire]:
                self._send(404, {"error": f"no route {self.path}"})
                return
            reply = stub._next(body)
            if reply.delay_s:
                time.sleep(reply.delay_s)
            if reply.body is not None:
                self._send(reply.status, reply.body)
            elif reply.status == 200:
                self._send(200, _success(stub.wire, reply.text, str((body or {}).get("model", ""))))
            else:
                self._send(reply.status, _error(stub.wire, reply.status, self._key()))

    return Handler
