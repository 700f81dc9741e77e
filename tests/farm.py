"""A farm of feeds on a FeedServer whose items keep arriving (for daemon-level tests).

    farm = Farm(server, feeds=100)
    farm.add(5)            # five new items, on five random feeds; every third says "alpha"
    farm.published         # every title published so far
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

from feedserver import FeedServer

#: Items per feed document (newest first): older ones scroll out of the window.
KEEP = 20


class Farm:
    def __init__(self, server: FeedServer, feeds: int, *, seed: int = 5,
                 delay_s: float = 0) -> None:
        self.server = server
        self.feeds = feeds
        self.delay_s = delay_s
        self.items: dict[int, list[str]] = {i: [] for i in range(feeds)}
        self.published: list[str] = []
        self.rng = random.Random(seed)
        self._lock = threading.Lock()
        for i in range(feeds):
            self._serve(i)

    def url(self, i: int) -> str:
        return self.server.url(f"/feed/{i}.xml")

    def config_feeds(self) -> str:
        """The ``feeds:`` entries of a YAML config, one a line."""
        return "\n".join(f'  - {{url: "{self.url(i)}"}}' for i in range(self.feeds))

    @property
    def alpha(self) -> list[str]:
        """The published titles that the rule ``alpha`` matches."""
        return [t for t in self.published if t.endswith(" alpha")]

    def add(self, count: int) -> None:
        with self._lock:
            for i in self.rng.sample(range(self.feeds), count):
                n = len(self.published)
                title = f"Story {n} from feed {i}" + (" alpha" if n % 3 == 0 else "")
                self.published.append(title)
                self.items[i].insert(0, f"<item><title>{title}</title><guid>s{n}</guid>"
                                        f"<link>https://farm.test/{n}</link></item>")
                self._serve(i)

    def publish_every(self, interval_s: float, count: int) -> Callable[[], None]:
        """Publish ``count`` items every ``interval_s`` in a thread; returns its stop
        (which returns once nothing more is published)."""
        stop = threading.Event()

        def publish() -> None:
            while not stop.wait(interval_s):
                self.add(count)

        thread = threading.Thread(target=publish, daemon=True)
        thread.start()

        def stop_publishing() -> None:
            stop.set()
            thread.join()

        return stop_publishing

    def _serve(self, i: int) -> None:
        body = ('<?xml version="1.0"?><rss version="2.0"><channel><title>Farm</title>'
                + "".join(self.items[i][:KEEP]) + "</channel></rss>")
        self.server.add(f"/feed/{i}.xml", body, content_type="application/rss+xml",
                        etag=f'"{len(self.items[i])}"', delay_s=self.delay_s)
