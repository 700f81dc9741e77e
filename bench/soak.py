"""Soak benchmark: the daemon against a farm of rotating feeds, in accelerated time.

A local farm (its own process) serves N feeds (default 1,000). Each feed lists its
latest 10 items and gains a new one every ``--rotate`` seconds (titles and text from
``corpus/ag_news`` in ``$MONITOR_SHARED_DATA`` or ``../shared/data``); it answers 304
to a matching If-None-Match, as real servers do. ``news-monitor run`` (a separate
process, SQLite by default) polls every feed every second (``poll.interval: 1s``,
polling as fast as it can: one pass over the farm is one *cycle*), matches 3 rules
and delivers each alert to a local webhook.

Sampled every ``--sample`` seconds from /proc: RSS of the daemon (and of its parse
worker), open file descriptors, threads, database connections (SQLite: descriptors
on the database files; PostgreSQL: backends in pg_stat_activity with the daemon's
application_name), database size and stored articles. Reported: the values after
warm-up (``--warmup`` cycles) against the end, RSS growth (target <= 10%), and the
database bytes per stored article (flat when the database grows only by articles).

Run:  python bench/soak.py [--feeds 1000] [--minutes 20] [--rotate 10] [--db-url URL]
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing as mp
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("MONITOR_SHARED_DATA", HERE.parents[1] / "shared" / "data"))
SHOWN = 10
APP_NAME = "news-monitor-soak"


def corpus() -> list[tuple[str, str]]:
    with (SHARED / "corpus" / "ag_news" / "test.csv").open(newline="", encoding="utf-8") as f:
        return [(t, d.replace("\\", " ")) for _label, t, d in csv.reader(f)]


def farm(port: Any, fetches: Any, hooks: Any, rotate_s: float, started: float) -> None:
    """The feed farm and the webhook, in this (child) process."""
    texts = corpus()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            n = int(self.path.strip("/").split(".")[0].removeprefix("f"))
            latest = int((time.monotonic() - started) / rotate_s) + n % 7 + SHOWN
            etag = f'"{n}-{latest}"'
            with fetches.get_lock():
                fetches.value += 1
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            items = []
            for i in range(latest, latest - SHOWN, -1):
                title, desc = texts[(n * 7919 + i * 104729) % len(texts)]
                items.append(f"<item><title>{escape(title)}</title>"
                             f"<link>https://farm.test/{n}/{i}</link><guid>f{n}-{i}</guid>"
                             f"<description>{escape(desc)}</description></item>")
            body = (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {n}'
                    f"</title>{''.join(items)}</channel></rss>").encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with hooks.get_lock():
                hooks.value += 1
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.request_queue_size = 256
    port.value = server.server_address[1]
    server.serve_forever()


def proc_status(pid: int) -> dict[str, int]:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "Threads"):
            values[key] = int(rest.split()[0])
    return values


def children(pid: int) -> list[int]:
    try:
        found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(c) for c in found]


def fd_targets(pid: int) -> list[str]:
    targets = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            targets.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            pass
    return targets


class Database:
    """Size, articles and connections of the daemon's database."""

    def __init__(self, url: str, path: Path | None) -> None:
        self.url, self.path = url, path

    def sample(self, pid: int) -> tuple[int, int, int]:
        if self.path is not None:
            files = [Path(str(self.path) + s) for s in ("", "-wal", "-shm")]
            size = sum(f.stat().st_size for f in files if f.exists())
            with sqlite3.connect(f"file:{self.path}?mode=ro", uri=True) as conn:
                articles = conn.execute("SELECT count(*) FROM article").fetchone()[0]
            conns = sum(1 for t in fd_targets(pid) if t == str(self.path))
            return size, articles, conns
        import psycopg

        dsn = self.url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn) as conn:
            size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
            articles = conn.execute("SELECT count(*) FROM article").fetchone()[0]
            conns = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE "
                                 "application_name = %s", (APP_NAME,)).fetchone()[0]
        return int(size), int(articles), int(conns)


def config(tmp: Path, feeds: int, port: int, db_url: str) -> Path:
    path = tmp / "soak.yaml"
    base = f"http://127.0.0.1:{port}"
    path.write_text(json.dumps({
        "database": db_url,
        "poll": {"interval": "1s", "tick": "1s", "jitter": 0, "timeout": "20s",
                 "concurrency": 50, "per_host": 50, "full_text": False, "backlog": 0},
        "feeds": [{"url": f"{base}/f{n}.xml", "name": f"Feed {n}"} for n in range(feeds)],
        "recipients": {"hook": [f"json://127.0.0.1:{port}/hook"]},
        "default_notify": ["hook"],
        "rules": [{"name": "oil", "query": "oil"}, {"name": "iraq", "query": "Iraq"},
                  {"name": "chips", "query": "Intel OR AMD"}],
        "delivery": {"tick": "1s"},
    }))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=20)
    parser.add_argument("--rotate", type=float, default=10,
                        help="seconds between two new items of one feed")
    parser.add_argument("--warmup", type=int, default=5, help="cycles before the baseline")
    parser.add_argument("--sample", type=float, default=10)
    parser.add_argument("--db-url", default=None, help="PostgreSQL URL (an empty database)")
    args = parser.parse_args()

    ctx = mp.get_context("spawn")
    port, fetches, hooks = ctx.Value("i", 0), ctx.Value("q", 0), ctx.Value("q", 0)
    started = time.monotonic()
    server = ctx.Process(target=farm, args=(port, fetches, hooks, args.rotate, started),
                         daemon=True)
    server.start()
    while not port.value:
        time.sleep(0.05)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        db_path = None if args.db_url else tmp / "soak.db"
        db_url = args.db_url or f"sqlite:///{db_path}"
        cfg = config(tmp, args.feeds, port.value, db_url)
        env = {**os.environ, "PGAPPNAME": APP_NAME}
        log = (tmp / "daemon.log").open("wb")
        daemon = subprocess.Popen([sys.executable, "-m", "monitor", "--log-level", "WARNING",
                                   "run", "-c", str(cfg)], env=env, stdout=log,
                                  stderr=subprocess.STDOUT)
        db = Database(db_url, db_path)
        rows: list[dict[str, float]] = []
        end = time.monotonic() + args.minutes * 60
        try:
            while time.monotonic() < end and daemon.poll() is None:
                time.sleep(args.sample)
                try:
                    rows.append(sample(daemon.pid, db, fetches.value / args.feeds,
                                       hooks.value, time.monotonic() - started))
                except (sqlite3.Error, OSError):  # still starting (no database yet)
                    continue
                r = rows[-1]
                print(f"t={r['t']:.0f}s cycles={r['cycles']:.0f} rss={r['rss_mb']:.1f}MB "
                      f"worker={r['worker_mb']:.1f}MB fds={r['fds']:.0f} threads="
                      f"{r['threads']:.0f} db_conns={r['db_conns']:.0f} articles="
                      f"{r['articles']:.0f} db={r['db_mb']:.1f}MB alerts={r['alerts']:.0f}",
                      flush=True)
        finally:
            daemon.terminate()
            code = daemon.wait(timeout=120)
            server.terminate()
        tail = (tmp / "daemon.log").read_text(errors="replace")[-2000:]
    report(rows, args, code, tail)


def sample(pid: int, db: Database, cycles: float, alerts: int, t: float) -> dict[str, float]:
    status = proc_status(pid)
    worker = sum(proc_status(c).get("VmRSS", 0) for c in children(pid))
    size, articles, conns = db.sample(pid)
    return {"t": t, "cycles": cycles, "rss_mb": status["VmRSS"] / 1024,
            "worker_mb": worker / 1024, "threads": status["Threads"],
            "fds": len(fd_targets(pid)), "db_conns": conns, "articles": articles,
            "db_mb": size / 1e6, "alerts": alerts}


def report(rows: list[dict[str, float]], args: Any, code: int | None, tail: str) -> None:
    warm = next((r for r in rows if r["cycles"] >= args.warmup), rows[0])
    last = rows[-1]
    growth = (last["rss_mb"] - warm["rss_mb"]) / warm["rss_mb"] * 100
    per_article = [r["db_mb"] * 1e6 / r["articles"] for r in (warm, last)]
    print(f"\n{args.feeds} feeds, a new item per feed every {args.rotate:g} s, "
          f"{args.minutes:g} min; daemon exit code {code}")
    print("| measure | after warm-up | end | change |\n|---|---|---|---|")
    print(f"| time / poll cycles | {warm['t']:.0f} s / {warm['cycles']:.0f} | "
          f"{last['t']:.0f} s / {last['cycles']:.0f} | |")
    print(f"| RSS, daemon | {warm['rss_mb']:.1f} MB | {last['rss_mb']:.1f} MB | "
          f"{growth:+.1f}% (target <= +10%) |")
    print(f"| RSS, parse worker | {warm['worker_mb']:.1f} MB | {last['worker_mb']:.1f} MB | |")
    for key in ("fds", "threads", "db_conns"):
        print(f"| {key} | {warm[key]:.0f} | {last[key]:.0f} | {last[key] - warm[key]:+.0f} |")
    print(f"| stored articles | {warm['articles']:.0f} | {last['articles']:.0f} | "
          f"{last['articles'] - warm['articles']:+.0f} |")
    print(f"| database size | {warm['db_mb']:.1f} MB | {last['db_mb']:.1f} MB | |")
    print(f"| database bytes per article | {per_article[0]:.0f} | {per_article[1]:.0f} | "
          f"{(per_article[1] / per_article[0] - 1) * 100:+.1f}% |")
    print(f"| alerts delivered | {warm['alerts']:.0f} | {last['alerts']:.0f} | |")
    peak = max(r["rss_mb"] for r in rows[rows.index(warm):])
    print(f"| RSS peak after warm-up | | {peak:.1f} MB | |")
    if code not in (0, None):
        print(tail)


if __name__ == "__main__":
    main()
