"""Hostile and broken servers through the whole pipeline (fetch, parse, store), all in
one poll: each bad feed ends in a recorded error or a bounded result, the good feed is
stored as usual. Plus the per-host concurrency bound and a self-signed TLS server."""

from __future__ import annotations

import asyncio
import gzip
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from feedserver import FeedServer, unused_port

from monitor.article import FetchResult
from monitor.config import Settings
from monitor.feeds.fetch import Fetcher
from monitor.service import Monitor

T0 = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)
RSS_TYPE = "application/rss+xml; charset=utf-8"
GOOD = (
    '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Good</title>'
    "<item><title>Fine story</title><link>https://good.test/1</link><guid>g1</guid></item>"
    "</channel></rss>"
)
LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY lol0 "lol">'
    + "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    + ']><rss version="2.0"><channel><title>L</title><item><guid>l1</guid>'
    "<title>&lol9;</title><description>&lol9;&lol9;</description></item></channel></rss>"
)
XXE = (
    '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    '<rss version="2.0"><channel><title>X</title><item><guid>x1</guid><title>t</title>'
    "<description>&xxe;</description></item></channel></rss>"
)
#: Declared UTF-8, but Latin-1 bytes and garbage in the middle.
BAD_BYTES = (
    b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>B</title>'
    b"<item><guid>b1</guid><title>Caf\xe9 \xff\xfe \xc3(</title></item></channel></rss>"
)
HUGE_ITEMS = 100_000
MAX_ITEMS = 200


def huge_feed() -> bytes:
    items = "".join(f"<item><title>t{i}</title><guid>h{i}</guid></item>" for i in range(HUGE_ITEMS))
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>H</title>{items}</channel></rss>'.encode()


class TLSFeedServer:
    """HTTPS on 127.0.0.1 with a freshly made self-signed certificate (openssl CLI)."""

    def __init__(self, folder: Path) -> None:
        cert, key = folder / "cert.pem", folder / "key.pem"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
             "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
            check=True, capture_output=True,
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = GOOD.encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        return f"https://127.0.0.1:{self.httpd.server_address[1]}/feed.xml"

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as s:
        yield s


def serve_hostile(server: FeedServer, tls_url: str) -> dict[str, str]:
    """Name -> URL of every case."""
    bomb = gzip.compress(bytes(50_000_000), compresslevel=9)  # ~50 KB -> 50 MB
    add = server.add
    return {
        "good": add("/good", GOOD, content_type=RSS_TYPE),
        "too_big": add("/big", b"<rss>" + b"x" * 8_000_000, content_type=RSS_TYPE),
        "gzip_bomb": add("/bomb", bomb, headers={"Content-Encoding": "gzip"},
                         content_type=RSS_TYPE),
        "dribble": add("/dribble", GOOD, content_type=RSS_TYPE, dribble_s=0.2),
        "loop": server.redirect("/loop", "/loop"),
        "ftp": server.redirect("/ftp", "ftp://127.0.0.1/feed.xml"),
        "laughs": add("/laughs", LAUGHS, content_type=RSS_TYPE),
        "xxe": add("/xxe", XXE, content_type=RSS_TYPE),
        "html": add("/html", "<!doctype html><html><body>Home</body></html>",
                    content_type="text/html"),
        "bad_bytes": add("/bad-bytes", BAD_BYTES, content_type=RSS_TYPE),
        "huge": add("/huge", huge_feed(), content_type=RSS_TYPE),
        "tls": tls_url,
        "refused": f"http://127.0.0.1:{unused_port()}/feed.xml",
    }


def test_hostile_servers_end_in_errors_or_bounded_results(
    db_url: str, server: FeedServer, tmp_path: Path
) -> None:
    with TLSFeedServer(tmp_path) as tls_url:
        urls = serve_hostile(server, tls_url)
        settings = Settings.model_validate({
            "database": db_url,
            "poll": {"timeout": 3, "max_size": "6MB", "max_items": MAX_ITEMS,
                     "concurrency": 20, "per_host": 20},
            "feeds": [{"url": u, "name": n} for n, u in urls.items()],
        })
        monitor = Monitor.from_settings(settings, clock=lambda: T0)
        try:
            report = asyncio.run(monitor.poll())
            status = {s.name: s for s in monitor.store.feed_statuses()}
            articles = list(monitor.store.stored_articles())
        finally:
            monitor.close()
    errors = {name: status[name].last_error or "" for name in urls}
    assert report.feeds == len(urls)
    assert errors["good"] == "" and status["good"].articles == 1
    expected = {
        "too_big": "larger than", "gzip_bomb": "larger than", "dribble": "timeout",
        "loop": "redirect", "ftp": "unsupported scheme", "html": "not a feed",
        "tls": "TLS", "refused": "connection refused",
    }
    for name, words in expected.items():
        assert words in errors[name], (name, errors[name])
        assert status[name].error_count == 1 and status[name].articles == 0
    # Entity tricks and bad bytes: the entries are read, nothing is expanded or fetched.
    by_key = {a.key: a for a in articles}
    assert len(by_key["l1"].title) < 100 and len(by_key["l1"].summary) < 100
    assert "root:" not in by_key["x1"].summary
    assert by_key["b1"].title.startswith("Caf")
    # 100,000 items: bounded work, the first MAX_ITEMS stored, no error.
    assert status["huge"].articles == MAX_ITEMS and errors["huge"] == ""


def test_per_host_bound_alongside_the_global_bound(server: FeedServer) -> None:
    # Two host names for the same server: 127.0.0.1 and localhost.
    paths = [f"/f{i}" for i in range(8)]
    for p in paths:
        server.add(p, GOOD, delay_s=0.2)
    one_host = [server.url(p) for p in paths]
    two_hosts = one_host[:4] + [f"http://localhost:{server.port}{p}" for p in paths[4:]]

    def run(urls: list[str], **kwargs: Any) -> list[FetchResult]:
        async def go() -> list[FetchResult]:
            async with Fetcher(**kwargs) as f:
                return list(await asyncio.gather(*(f.fetch(u) for u in urls)))

        # The last run's server threads may still be finishing after their clients got
        # the whole answer: count only this run's requests.
        deadline = time.monotonic() + 10
        while server.in_flight and time.monotonic() < deadline:
            time.sleep(0.01)
        server.max_in_flight = 0
        return asyncio.run(go())

    assert all(r.ok for r in run(one_host, concurrency=20, per_host=2))
    assert server.max_in_flight == 2  # the per-host bound, not the global one
    assert all(r.ok for r in run(one_host, concurrency=20, per_host=3))
    assert server.max_in_flight == 3
    assert all(r.ok for r in run(two_hosts, concurrency=20, per_host=2))
    assert server.max_in_flight == 4  # two hosts, two each
    assert all(r.ok for r in run(two_hosts, concurrency=3, per_host=2))
    assert server.max_in_flight == 3  # the global bound still holds
