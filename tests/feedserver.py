"""A real-socket HTTP server on 127.0.0.1 for tests: serves feeds, errors and traps.

    with FeedServer() as server:
        server.add("/feed.xml", body, headers={"Content-Type": "application/rss+xml"},
                   etag='"v1"')
        server.redirect("/old", "/feed.xml", status=301)
        url = server.url("/feed.xml")
        ...
        assert server.requests[-1].headers["if-none-match"] == '"v1"'

Each route answers with a status, headers and body; optionally after a delay, or
dribbling the body slowly (to test total time bounds); with ETag/Last-Modified
validators it answers 304 to a matching conditional GET. Unknown paths are 404.
Threads serve requests, so a slow route never blocks the others, and ``stop()``
wakes any sleeping handler so the server shuts down at once.
"""

from __future__ import annotations

import gzip as gzip_module
import socket
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Self


@dataclass(frozen=True)
class Route:
    """What the server answers on one path."""

    body: bytes = b""
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    #: Seconds to wait before answering at all.
    delay_s: float = 0
    #: Seconds to wait between body pieces of ``dribble_bytes`` (0: send at once).
    dribble_s: float = 0
    dribble_bytes: int = 1
    #: Send the body with Transfer-Encoding: chunked (no Content-Length).
    chunked: bool = False
    #: Validators: a matching If-None-Match / If-Modified-Since gets a 304.
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server saw (header names lower-cased)."""

    method: str
    path: str
    headers: Mapping[str, str]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # Clients that hang up early (timeouts, size caps) are what tests provoke.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


def unused_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (for 'connection refused')."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class FeedServer:
    """A threaded HTTP/1.1 server on 127.0.0.1 (a free port) serving configured routes."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[RecordedRequest] = []
        #: Requests being answered right now, and the most there ever were at once.
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> Self:
        handler = _make_handler(self)
        self._httpd = _Server(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- configuration ---------------------------------------------------------------

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        """The absolute URL of a path on this server."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def add(
        self,
        path: str,
        body: bytes | str = b"",
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        delay_s: float = 0,
        *,
        content_type: str | None = None,
        gzip: bool = False,
        etag: str | None = None,
        last_modified: str | None = None,
        dribble_s: float = 0,
        dribble_bytes: int = 1,
        chunked: bool = False,
    ) -> str:
        """Serve ``body`` on ``path`` (replacing any earlier route); returns its URL.

        ``gzip=True`` compresses the body and sends ``Content-Encoding: gzip``.
        """
        data = body.encode("utf-8") if isinstance(body, str) else body
        all_headers = dict(headers or {})
        if content_type is not None:
            all_headers["Content-Type"] = content_type
        if gzip:
            data = gzip_module.compress(data)
            all_headers["Content-Encoding"] = "gzip"
        route = Route(
            body=data,
            status=status,
            headers=all_headers,
            delay_s=delay_s,
            dribble_s=dribble_s,
            dribble_bytes=dribble_bytes,
            chunked=chunked,
            etag=etag,
            last_modified=last_modified,
        )
        with self._lock:
            self.routes[path] = route
        return self.url(path)

    def add_file(self, path: str, file: Path, **kwargs: object) -> str:
        """Serve the bytes of ``file`` on ``path`` (same options as ``add``)."""
        return self.add(path, file.read_bytes(), **kwargs)  # type: ignore[arg-type]

    def redirect(self, path: str, location: str, status: int = 302) -> str:
        """Answer ``path`` with a redirect to ``location`` (a path or an absolute URL)."""
        return self.add(path, b"", status=status, headers={"Location": location})

    def requests_to(self, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    # -- used by the handler ---------------------------------------------------------

    def _begin(self, request: RecordedRequest) -> Route | None:
        with self._lock:
            self.requests.append(request)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            return self.routes.get(request.path)

    def _end(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _sleep(self, seconds: float) -> bool:
        """Wait, unless the server stops first; True when it is stopping."""
        return self._stopping.wait(seconds) if seconds > 0 else self._stopping.is_set()


def _not_modified(route: Route, headers: Mapping[str, str]) -> bool:
    inm = headers.get("if-none-match")
    if route.etag is not None and inm is not None:
        return inm.strip() == "*" or route.etag in [t.strip() for t in inm.split(",")]
    ims = headers.get("if-modified-since")
    return route.last_modified is not None and ims == route.last_modified


def _make_handler(server: FeedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real feed servers do

        def do_GET(self) -> None:
            self._answer(send_body=True)

        def do_HEAD(self) -> None:
            self._answer(send_body=False)

        def _answer(self, send_body: bool) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            path = self.path.split("?", 1)[0]
            route = server._begin(RecordedRequest(self.command, path, headers))
            try:
                self._respond(route, headers, send_body)
            finally:
                server._end()

        def _respond(
            self, route: Route | None, headers: Mapping[str, str], send_body: bool
        ) -> None:
            if route is None:
                route = Route(body=b"not found", status=404)
            if server._sleep(route.delay_s):
                return
            status, body = route.status, route.body
            if _not_modified(route, headers):
                status, body = 304, b""
            self.send_response(status)
            extra = {k.lower() for k in route.headers}
            for name, value in route.headers.items():
                self.send_header(name, value)
            if route.etag is not None and "etag" not in extra:
                self.send_header("ETag", route.etag)
            if route.last_modified is not None and "last-modified" not in extra:
                self.send_header("Last-Modified", route.last_modified)
            if route.chunked and status != 304:
                self.send_header("Transfer-Encoding", "chunked")
            elif "content-length" not in extra and status != 304:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if send_body and status != 304:
                self._write(route, body)

        def _write(self, route: Route, body: bytes) -> None:
            try:
                if route.dribble_s <= 0 and not route.chunked:
                    self.wfile.write(body)
                    return
                step = route.dribble_bytes if route.dribble_s > 0 else 16 * 1024
                for i in range(0, len(body), step):
                    self._write_piece(route, body[i : i + step])
                    if server._sleep(route.dribble_s):
                        return
                if route.chunked:
                    self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeouts, size caps): expected in tests

        def _write_piece(self, route: Route, piece: bytes) -> None:
            if route.chunked:
                piece = b"%x\r\n%s\r\n" % (len(piece), piece)
            self.wfile.write(piece)
            self.wfile.flush()

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep test output quiet

    return Handler
