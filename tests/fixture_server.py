"""A loopback HTTP server for crawler tests and benchmarks: a folder of pages plus failure routes.

Standard library only, so benchmarks can use it without the test suite's fixtures.

Routes, besides the files of the served folder:

- ``/status/<code>``: that HTTP status with a short HTML body.
- ``/flaky/<n>/<path>``: HTTP 500 for the first ``n`` requests of this exact URL (query
  included, so each test can use a fresh key), then the file ``<path>``.
- ``/slow/<seconds>/<path>``: waits, then serves ``<path>`` (for client timeouts).
- ``POST /linkedin/login-submit``: a LinkedIn-like login; right credentials set a session
  cookie and redirect to ``/linkedin/feed/``, wrong ones back to the login page.
- ``/linkedin/in/...``: needs the session cookie, else redirects to the login page.
"""

from __future__ import annotations

import collections
import functools
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

LINKEDIN_LOGIN_PAGE = "/linkedin/login.html"
LINKEDIN_SESSION_COOKIE = "li_at=fixture-session"


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a test never waits for a slow route to finish

    def __init__(
        self, address: tuple[str, int], handler: type, *, latency: float, credentials: tuple[str, str]
    ):
        super().__init__(address, handler)
        self.latency = latency
        self.credentials = credentials
        self.hits: collections.Counter[str] = collections.Counter()
        self.lock = threading.Lock()

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients that time out drop connections; that is what the slow route is for


class _Handler(SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real sites do
    # Headers and body go out in separate writes; with Nagle's algorithm on, each response
    # would wait ~40 ms for a delayed ACK and drown the configured latency.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, code: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        for name, value in {"Content-Type": "text/html; charset=utf-8", **(headers or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location: str, headers: dict[str, str] | None = None) -> None:
        self._send(303, headers={"Location": location, **(headers or {})})

    def do_GET(self) -> None:
        time.sleep(self.server.latency)
        with self.server.lock:
            self.server.hits[self.path] += 1
            hits = self.server.hits[self.path]
        path = urlsplit(self.path).path
        parts = path.strip("/").split("/")
        if parts[0] == "status" and len(parts) == 2 and parts[1].isdigit():
            return self._send(int(parts[1]), f"<html><body><p>status {parts[1]}</p></body></html>".encode())
        if parts[0] == "flaky" and len(parts) >= 3 and parts[1].isdigit():
            if hits <= int(parts[1]):
                return self._send(500, b"<html><body><p>temporarily broken</p></body></html>")
            self.path = "/" + "/".join(parts[2:])
        elif parts[0] == "slow" and len(parts) >= 3:
            time.sleep(float(parts[1]))
            self.path = "/" + "/".join(parts[2:])
        elif path.startswith("/linkedin/in/") and LINKEDIN_SESSION_COOKIE not in self.headers.get(
            "Cookie", ""
        ):
            return self._redirect(LINKEDIN_LOGIN_PAGE)
        return super().do_GET()

    def do_POST(self) -> None:
        time.sleep(self.server.latency)
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(length).decode())
        if urlsplit(self.path).path != "/linkedin/login-submit":
            return self._send(404)
        given = (form.get("session_key", [""])[0], form.get("session_password", [""])[0])
        if given != self.server.credentials:
            return self._redirect(f"{LINKEDIN_LOGIN_PAGE}?error=1")
        return self._redirect(
            "/linkedin/feed/", {"Set-Cookie": f"{LINKEDIN_SESSION_COOKIE}; Path=/; HttpOnly"}
        )


class FixtureServer:
    """Serves ``root`` on a loopback port from a background thread.

    Args:
        root: folder whose files are served.
        latency_seconds: delay added to every request, to mimic a network.
        credentials: the username and password the LinkedIn-like login accepts.
        host: address to listen on.
        port: port to listen on; 0 picks a free one.
    """

    def __init__(
        self,
        root: Path,
        *,
        latency_seconds: float = 0.0,
        credentials: tuple[str, str] = ("ada@example.com", "analytical-engine"),
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        handler = functools.partial(_Handler, directory=str(root))
        self._server = _Server((host, port), handler, latency=latency_seconds, credentials=credentials)
        self._thread = threading.Thread(target=self._server.serve_forever, name="fixture-server", daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def hits(self) -> collections.Counter[str]:
        """Requests per path (query included) so far."""
        return self._server.hits

    def url(self, path: str = "/") -> str:
        """The absolute URL of ``path`` on this server."""
        return self.base_url + "/" + path.lstrip("/")

    def start(self) -> FixtureServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FixtureServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
