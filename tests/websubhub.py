"""A local WebSub hub for tests (real sockets): accepts (un)subscribe requests,
verifies intent against the subscriber's callback, and publishes signed content.

    with LocalHub() as hub:
        ... feed with <link rel="hub" href="{hub.url}"/> ...
        hub.wait_for(lambda: hub.verified(topic))
        hub.publish(topic, body)                  # signed with the subscriber's secret
        hub.publish(topic, body, secret="wrong")  # badly signed
"""

from __future__ import annotations

import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

from monitor.websub.signature import sign


@dataclass
class HubSubscription:
    topic: str
    callback: str
    secret: str
    lease_seconds: int
    verified: bool = False
    #: What the subscriber answered to each verification: (mode, status, echoed challenge).
    checks: list[tuple[str, int, bool]] = field(default_factory=list)


class LocalHub:
    def __init__(self, grant_lease_s: int | None = None, *, verify_first: bool = False) -> None:
        self.requests: list[dict[str, str]] = []
        #: Verify intent before answering the (un)subscribe request (the spec allows it).
        self.verify_first = verify_first
        self.subscriptions: dict[str, HubSubscription] = {}  # by callback
        self.grant_lease_s = grant_lease_s
        self.lock = threading.Lock()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                with hub.lock:
                    hub.requests.append(form)
                if hub.verify_first:
                    hub._verify(form)
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                if not hub.verify_first:
                    threading.Thread(target=hub._verify, args=(form,), daemon=True).start()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def __enter__(self) -> Self:
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _verify(self, form: dict[str, str]) -> None:
        mode, callback = form["hub.mode"], form["hub.callback"]
        lease = self.grant_lease_s or int(form.get("hub.lease_seconds", "3600"))
        challenge = secrets.token_hex(8)
        status, echoed = self.check(callback, mode, form["hub.topic"], challenge, lease)
        with self.lock:
            sub = self.subscriptions.setdefault(callback, HubSubscription(
                form["hub.topic"], callback, form.get("hub.secret", ""), lease))
            sub.secret = form.get("hub.secret", sub.secret)
            sub.checks.append((mode, status, echoed))
            sub.verified = mode == "subscribe" and status == 200 and echoed

    @staticmethod
    def check(callback: str, mode: str, topic: str, challenge: str,
              lease: int = 3600) -> tuple[int, bool]:
        """A verification GET as a hub sends it: (status, challenge echoed)."""
        query = urllib.parse.urlencode({"hub.mode": mode, "hub.topic": topic,
                                        "hub.challenge": challenge, "hub.lease_seconds": lease})
        try:
            with urllib.request.urlopen(f"{callback}?{query}", timeout=5) as resp:
                return resp.status, resp.read().decode() == challenge
        except urllib.error.HTTPError as e:
            return e.code, False

    def verified(self, topic: str) -> list[HubSubscription]:
        with self.lock:
            return [s for s in self.subscriptions.values() if s.topic == topic and s.verified]

    def publish(self, topic: str, body: bytes, *, secret: str | None = None,
                content_type: str = "application/rss+xml") -> list[int]:
        """POST ``body`` to every verified subscriber of ``topic``; their statuses."""
        statuses = []
        for sub in self.verified(topic):
            request = urllib.request.Request(sub.callback, data=body, method="POST", headers={
                "Content-Type": content_type,
                "X-Hub-Signature": sign(secret if secret is not None else sub.secret, body),
                "Link": f'<{self.url}>; rel="hub", <{topic}>; rel="self"'})
            try:
                with urllib.request.urlopen(request, timeout=5) as resp:
                    statuses.append(resp.status)
            except urllib.error.HTTPError as e:
                statuses.append(e.code)
        return statuses


def wait_for(condition: Callable[[], object], timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)
