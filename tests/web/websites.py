"""A real news-monitor web listener for tests, over a database filled by a real poll.

    with Site(db_url, tmp_path) as site:
        status, headers, body = site.call("GET", "/api/v1/matches", token=site.read)

The feeds come from a local FeedServer (real sockets); the daemon polls them once
(``Monitor.run_once`` without delivery), so every page shows real stored data,
hostile feed text included. The app listens on 127.0.0.1 on a free port, in a
thread with its own event loop; ``call`` speaks HTTP with http.client and never
follows redirects (tests look at them).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlencode

from aiohttp import web
from feedserver import FeedServer

from monitor.config import load_settings
from monitor.service import Monitor
from monitor.web.app import make_app

ADMIN = "admin-token-0123456789abcdef"
READ = "read-token-0123456789abcdef"
HOOK_SECRET = "hook-secret-9876543210"
FEED_KEY = "feed-key-5555544444"
HOSTILE_TITLE = "<script>alert('title')</script> Zoom goes rogue"

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>World</title><link>https://news.example/</link>
<description>d</description>
<item><title>Zoom signs partner-only deal in mainland China</title>
<link>https://news.example/zoom-china</link><guid>a1</guid>
<description>Zoom Video Communications will host data in mainland China, a partner-only
arrangement.</description><pubDate>Tue, 01 Dec 2026 10:00:00 GMT</pubDate></item>
<item><title>&lt;script&gt;alert('title')&lt;/script&gt; Zoom goes rogue</title>
<link>javascript:alert(document.cookie)</link><guid>a2</guid>
<description>Zoom and China &lt;img src=x onerror=alert(1)&gt; again.</description></item>
<item><title>Weather: rain over Berlin</title><link>https://news.example/weather</link>
<guid>a3</guid><description>Grey skies all week.</description></item>
</channel></rss>"""
BROKEN_PATH = "/broken.xml"
ENV = {"HOOK_PASS": HOOK_SECRET, "ADMIN_TOKEN": ADMIN, "READ_TOKEN": READ, "FEED_KEY": FEED_KEY}

CONFIG = """
database: {db}
feeds:
  - {{url: "{world}", name: World, tags: [world]}}
  - {{url: "{broken}?key=${{FEED_KEY}}", name: Broken}}
entities:
  Zoom: {{aliases: ["Zoom", "Zoom Video Communications"]}}
  China: {{aliases: ["China", "mainland China"]}}
recipients:
  hook: ["json://user:${{HOOK_PASS}}@127.0.0.1:9/hook"]
stories: {{enabled: true}}
rules:
  - {{name: zoom-china, query: "@Zoom AND @China", notify: [hook]}}
  - {{name: weather, query: "rain", notify: []}}
http:
  listen: 127.0.0.1:8080
  public_metrics: {public_metrics}
  tokens:
    ops: {{token: "${{ADMIN_TOKEN}}", role: admin}}
    viewer: {{token: "${{READ_TOKEN}}", role: read}}
"""


class Site:
    """Feeds served, polled once into ``db_url``, and the web app listening."""

    admin = ADMIN
    read = READ

    def __init__(self, db_url: str, tmp_path: Path, *, public_metrics: bool = False,
                 websub: bool = False) -> None:
        self.db_url, self.tmp_path, self.public_metrics = db_url, tmp_path, public_metrics
        #: Configure WebSub (no websub.listen: the app mounts the callbacks, as `run` does).
        self.websub = websub
        self.feeds = FeedServer()
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self.port = 0

    def __enter__(self) -> Self:
        self.feeds.start()
        self.feeds.add("/world.xml", RSS.encode(), headers={"Content-Type": "application/rss+xml"})
        self.feeds.add(BROKEN_PATH, b"oops", status=500)
        path = self.tmp_path / "monitor.yaml"
        path.write_text(CONFIG.format(db=self.db_url, world=self.feeds.url("/world.xml"),
                                      broken=self.feeds.url(BROKEN_PATH),
                                      public_metrics=str(self.public_metrics).lower())
                        + ("websub: {callback_base: 'https://monitor.example.org'}\n"
                           if self.websub else ""))
        self.config_path = path
        self.settings = load_settings(path, env=ENV)
        #: The broken feed's configured URL (its query holds a secret).
        self.broken_url = f"{self.feeds.url(BROKEN_PATH)}?key={FEED_KEY}"
        self.monitor = Monitor.from_settings(self.settings)
        asyncio.run(self.monitor.poll(all_feeds=True))
        self.app = make_app(lambda: self.monitor.settings, self.monitor.store,
                            monitor=self.monitor)
        started = threading.Event()
        threading.Thread(target=self._serve, args=(started,), daemon=True).start()
        assert started.wait(30), "the web app did not start"
        return self

    def _serve(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)

        async def start() -> None:
            self._runner = web.AppRunner(self.app, shutdown_timeout=1)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            self.port = self._runner.addresses[0][1]

        self._loop.run_until_complete(start())
        started.set()
        self._loop.run_forever()

    def __exit__(self, *exc: object) -> None:
        if self._runner is not None:
            future = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
            future.result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self.monitor.close()
        self.feeds.stop()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def call(self, method: str, path: str, *, token: str | None = None,
             json_body: Any = None, form: dict[str, str] | None = None,
             headers: dict[str, str] | None = None, cookie: str | None = None,
             ) -> tuple[int, http.client.HTTPMessage, str]:
        """One request; (status, headers, body text). Redirects are not followed."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        sent = dict(headers or {})
        body: bytes | None = None
        if token:
            sent["Authorization"] = f"Bearer {token}"
        if cookie:
            sent["Cookie"] = cookie
        if json_body is not None:
            body, sent["Content-Type"] = json.dumps(json_body).encode(), "application/json"
        elif form is not None:
            body = urlencode(form).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            return response.status, response.headers, response.read().decode("utf-8", "replace")
        finally:
            conn.close()

    def get_json(self, path: str, token: str = READ) -> Any:
        status, _, body = self.call("GET", path, token=token)
        assert status == 200, (path, status, body)
        return json.loads(body)

    def reload(self, extra_rules: str) -> None:
        """Load the config again with more rules (YAML list items), as SIGHUP would."""
        text = self.config_path.read_text().replace("rules:\n", f"rules:\n{extra_rules}", 1)
        self.config_path.write_text(text)
        self.monitor.settings = load_settings(self.config_path, env=ENV)

    def make_dead_alert(self, error: str = "HTTP 500 from hook") -> int:
        """Fail one pending alert for good; its id."""
        alert = self.monitor.store.list_alerts(status="pending")[0]
        self.monitor.store.mark_alert_failed(alert.id, error, datetime.now(UTC), None)
        return alert.id


def login(site: Site, token: str) -> tuple[str, str]:
    """Log in through the form as a browser would; (cookie header, csrf token)."""
    status, headers, body = site.call("GET", "/login")
    assert status == 200
    login_cookie = headers["Set-Cookie"].split(";")[0]
    csrf = body.split('name="csrf" value="')[1].split('"')[0]
    status, headers, _ = site.call("POST", "/login", form={"csrf": csrf, "token": token},
                                   cookie=login_cookie)
    assert status == 303, status
    session = next(c for c in headers.get_all("Set-Cookie") if c.startswith("nm_session="))
    cookie = session.split(";")[0]
    status, _, page = site.call("GET", "/", cookie=cookie)
    assert status == 200
    return cookie, page.split('name="csrf" value="')[1].split('"')[0]
