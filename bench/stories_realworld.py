"""Story grouping on real feeds: which stories span several feeds, and are they one event?

The labelled corpus of ``bench/stories.py`` is undated titles and snippets of one week;
real feeds are not. This serves the 136 documents of ``feeds/realworld`` (from
``$MONITOR_SHARED_DATA`` or ``../shared/data``) on 127.0.0.1, runs one ``news-monitor
once`` over them with stories on, as a user subscribing them would, and prints every
story that groups articles of more than one feed: its size, its feeds, and how far
apart its articles' dates are (published, else updated). Nothing is labelled: the list
is for a person to read. A story whose articles are years apart, or whose titles share
one word, is a wrong grouping.

Run:  python bench/stories_realworld.py [--before TREE] [--show 40]

``--before TREE`` runs the same with the ``monitor`` package of another checkout (a git
worktree of an earlier commit) and prints both counts.
"""

from __future__ import annotations

import argparse
import functools
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
from datetime import datetime
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("MONITOR_SHARED_DATA", HERE.parents[1] / "shared" / "data"))
FEEDS = SHARED / "feeds"


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def serve() -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet,
                                                                     directory=str(FEEDS)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def run(base: str, work: Path, tree: str | None) -> list[dict]:
    """One ``once`` over every real-world feed (stories on), then each multi-feed story."""
    work.mkdir(parents=True, exist_ok=True)
    files = sorted(p for p in (FEEDS / "realworld").rglob("*") if p.is_file())
    db = work / "stories.db"
    config = work / "monitor.yaml"
    config.write_text(
        f"database: sqlite:///{db}\nstories: {{enabled: true}}\n"
        # Full text off: the articles' pages are on the real sites.
        "poll: {timeout: 10s, full_text: false}\nfeeds:\n"
        + "".join(f"  - url: '{base}/{p.relative_to(FEEDS)}'\n" for p in files),
        encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    if tree:
        env["PYTHONPATH"] = tree
    done = subprocess.run([sys.executable, "-m", "monitor", "once", "-c", str(config)],
                          cwd=tree or HERE.parent, env=env, capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise SystemExit(f"once exited {done.returncode}:\n{done.stderr[-2000:]}")
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT s.id, s.title, count(*), count(DISTINCT a.first_feed_id),"
            " min(coalesce(a.published, a.updated)), max(coalesce(a.published, a.updated)),"
            " (SELECT count(*) FROM story)"
            " FROM article a JOIN story s ON s.id = a.story_id"
            " GROUP BY s.id HAVING count(DISTINCT a.first_feed_id) > 1"
            " ORDER BY count(*) DESC, s.id").fetchall()
    return [{"id": r[0], "title": r[1], "articles": r[2], "feeds": r[3],
             "span_days": _days(r[4], r[5]), "stories": r[6]} for r in rows]


def _days(first: str | None, last: str | None) -> float | None:
    if not first or not last:
        return None
    return (datetime.fromisoformat(last) - datetime.fromisoformat(first)).total_seconds() / 86400


def report(name: str, stories: list[dict], show: int) -> str:
    total = stories[0]["stories"] if stories else 0
    apart = sum(1 for s in stories if (s["span_days"] or 0) > 2)
    lines = [f"{name}: {total} stories; {len(stories)} span several feeds, "
             f"{apart} of them with articles dated more than 2 days apart",
             f"{'articles':>8} {'feeds':>5} {'days apart':>10}  title"]
    for s in stories[:show]:
        span = "-" if s["span_days"] is None else f"{s['span_days']:.1f}"
        lines.append(f"{s['articles']:>8} {s['feeds']:>5} {span:>10}  {s['title'][:80]}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", metavar="TREE",
                        help="also run with the monitor package of this checkout")
    parser.add_argument("--show", type=int, default=40, help="stories listed per run")
    args = parser.parse_args()
    if not (FEEDS / "realworld").is_dir():
        raise SystemExit(f"no real-world feeds at {FEEDS / 'realworld'} (MONITOR_SHARED_DATA)")
    server, base = serve()
    try:
        with tempfile.TemporaryDirectory(prefix="nm-real-") as tmp:
            out = []
            if args.before:
                out.append(report(f"before ({args.before})",
                                  run(base, Path(tmp) / "before", args.before), args.show))
            out.append(report("this tree", run(base, Path(tmp) / "after", None), args.show))
    finally:
        server.shutdown()
    print("\n\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
