"""`news-monitor demo`: a self-contained, offline run for a newcomer.

Serves the bundled sample feeds (written for the demo; the stories are
invented) from a local HTTP server, runs one full cycle with example rules
into a temporary SQLite database, and returns the stored matches. Alerts go
to the console through apprise's `console://` target.
"""

from __future__ import annotations

import asyncio
import functools
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve_directory(directory: Path) -> Iterator[str]:
    """Serve `directory` on 127.0.0.1 (random port) in a thread; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def run_demo(keep: Path | None = None) -> list[Any]:
    """Run one demo cycle; returns the stored matches (MatchView list)."""
    from monitor.config import load_settings
    from monitor.service import Monitor

    with tempfile.TemporaryDirectory(prefix="news-monitor-demo-") as tmp:
        db_path = keep.resolve() if keep else Path(tmp) / "demo.db"
        with serve_directory(HERE) as base:
            env = {"DEMO_BASE": base, "DEMO_DB": f"sqlite:///{db_path}"}
            settings = load_settings(HERE / "demo.yaml", env=env)
            monitor = Monitor.from_settings(settings)
            try:
                asyncio.run(monitor.run_once())
                return monitor.store.list_matches()
            finally:
                monitor.close()
