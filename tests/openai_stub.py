"""A loopback HTTP server that speaks the OpenAI chat-completions schema, with scripted answers.

``POST /v1/chat/completions`` answers with what the ``responder`` returns for the request's
JSON body: a :class:`Reply` (content, HTTP status, delay, token usage). Requests are recorded,
and the number of requests in flight at once is tracked, so tests can check concurrency
bounds. It runs ``http.server`` in a thread on a free port; use it as a context manager.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    """One scripted answer.

    Attributes:
        content: the assistant message's text.
        status: HTTP status; anything but 200 sends an OpenAI-style error body.
        delay: seconds to wait before answering (longer than the client's timeout: a timeout).
        usage: ``(prompt_tokens, completion_tokens)``; None leaves ``usage`` out.
    """

    content: str = ""
    status: int = 200
    delay: float = 0.0
    usage: tuple[int, int] | None = (10, 5)


Responder = Callable[[dict[str, Any]], Reply]


def user_text(body: dict[str, Any]) -> str:
    """The text of the last user message of a request."""
    return next((m["content"] for m in reversed(body.get("messages", [])) if m.get("role") == "user"), "")


def system_text(body: dict[str, Any]) -> str:
    """The text of the system message of a request ("" without one)."""
    return next((m["content"] for m in body.get("messages", []) if m.get("role") == "system"), "")


class OpenAIStub:
    """The loopback server.

    Args:
        responder: request body -> :class:`Reply`; default: echo the last user message.
    """

    def __init__(self, responder: Responder | None = None) -> None:
        self.responder: Responder = responder or (lambda body: Reply(content=user_text(body)))
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []  # lower-cased names
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """The API root to give the client, e.g. ``http://127.0.0.1:PORT/v1``."""
        assert self._server is not None, "start the stub first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> OpenAIStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
                    return
                with stub._lock:
                    stub.requests.append(body)
                    stub.headers.append({k.lower(): v for k, v in self.headers.items()})
                    stub.in_flight += 1
                    stub.max_in_flight = max(stub.max_in_flight, stub.in_flight)
                try:
                    reply = stub.responder(body)
                    if reply.delay:
                        time.sleep(reply.delay)
                    if reply.status != 200:
                        self._send(
                            reply.status,
                            {"error": {"message": reply.content or "scripted error", "type": "server_error"}},
                        )
                        return
                    self._send(200, _completion(body, reply))
                finally:
                    with stub._lock:
                        stub.in_flight -= 1

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode("utf-8")
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="openai-stub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> OpenAIStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _completion(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    response: dict[str, Any] = {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "stub"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.content},
                "finish_reason": "stop",
            }
        ],
    }
    if reply.usage is not None:
        prompt, completion = reply.usage
        response["usage"] = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
    return response
