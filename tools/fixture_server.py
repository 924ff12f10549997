"""A loopback HTTP server of fixture pages, for the crawler tests, ``bench-crawl`` and trying crawlers by hand.

It lives in tools/ rather than tests/ because the benchmark needs it too and bench/ must
not import the test suite. Standard library (and click for its command line). Run it by hand with
``python -m tools.fixture_server tests/fixtures/site`` and point a config's links at it.

Routes, besides the files of the served folder:

- ``/status/<code>``: that HTTP status with a short HTML body.
- ``/flaky/<n>/<path>``: HTTP 500 for the first ``n`` requests of this exact URL (query
  included, so each test can use a fresh key), then the file ``<path>``.
- ``/slow/<seconds>/<path>``: waits, then serves ``<path>`` (for client timeouts).
- ``/big/<bytes>``: an HTML page of that many bytes, streamed without a Content-Length
  (for size caps that must stop reading, not trust a header).
- ``POST /linkedin/login-submit``: a LinkedIn-like login; right credentials set a session
  cookie and redirect to ``/linkedin/feed/``, wrong ones back to the login page.
- ``/linkedin/in/...``: needs the session cookie, else redirects to the login page.

``hits`` counts requests per method and path (``GET /x``, ``POST /linkedin/login-submit``).
"""

from __future__ import annotations

import collections
import functools
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import click

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
        hits = self._count()
        path = urlsplit(self.path).path
        parts = path.strip("/").split("/")
        if parts[0] == "status" and len(parts) == 2 and parts[1].isdigit():
            return self._send(int(parts[1]), f"<html><body><p>status {parts[1]}</p></body></html>".encode())
        if parts[0] == "flaky" and len(parts) >= 3 and parts[1].isdigit():
            if hits <= int(parts[1]):
                return self._send(500, b"<html><body><p>temporarily broken</p></body></html>")
            self.path = "/" + "/".join(parts[2:])
        elif parts[0] == "big" and len(parts) == 2 and parts[1].isdigit():
            return self._stream_big(int(parts[1]))
        elif parts[0] == "slow" and len(parts) >= 3:
            time.sleep(float(parts[1]))
            self.path = "/" + "/".join(parts[2:])
        elif path.startswith("/linkedin/in/") and LINKEDIN_SESSION_COOKIE not in self.headers.get(
            "Cookie", ""
        ):
            return self._redirect(LINKEDIN_LOGIN_PAGE)
        return super().do_GET()

    def _count(self) -> int:
        key = f"{self.command} {self.path}"
        with self.server.lock:
            self.server.hits[key] += 1
            return self.server.hits[key]

    def _stream_big(self, size: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Connection", "close")  # no Content-Length: the body ends when the connection does
        self.end_headers()
        self.close_connection = True
        head, filler = b"<html><body><article><p>", b"x" * 65536
        try:
            self.wfile.write(head)
            sent = len(head)
            while sent < size:
                chunk = filler[: size - sent]
                self.wfile.write(chunk)
                sent += len(chunk)
        except OSError:
            pass  # the client stopped reading: what a size cap does

    def do_POST(self) -> None:
        time.sleep(self.server.latency)
        self._count()
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
        """Requests so far per ``"METHOD path"`` (query included), e.g. ``"GET /article.html"``."""
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


@click.command()
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--port", default=8000, show_default=True, help="Port on 127.0.0.1.")
def main(root: Path, port: int) -> None:
    """Serve ROOT (e.g. tests/fixtures/site) with the fixture routes until interrupted."""
    server = FixtureServer(root, port=port).start()
    click.echo(f"serving {root} on {server.base_url} (Ctrl-C stops)")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
