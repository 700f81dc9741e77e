"""Ingest benchmark: news-monitor vs the `reader` library over one local feed farm.

The farm: N feeds x ITEMS items generated from ``corpus/ag_news/test.csv`` (read in
place from ``$MONITOR_SHARED_DATA`` or ``../shared/data``), written as static files
and served by nginx (Debian's ``nginx-light``: ETag support, so an unchanged feed
answers 304, and fast enough not to be the bottleneck). Every measured client runs
in its own process, so memory figures are its own.

    (a) first ingest of 500 feeds x 50 items, end to end: news-monitor fetches,
        parses, dedupes, matches 1,000 rules and stores (SQLite; stories off, the
        default); reader (``update_feeds``, 1 and 4 workers) fetches, parses and
        stores.  -> articles/s; and the share of news-monitor's CPU spent in parse_feed
    (b) the next cycle, where every feed answers 304.                   -> feeds/s
    (c) peak RSS of a news-monitor process with 10,000 feeds and 10,000 rules
        through a first-ingest cycle (5 items per feed) and a 304 cycle.
    (d) what a cron job runs, timed as whole processes (start-up included): a fresh
        ``news-monitor once -c CONFIG`` (the (a) farm and rules, every alert delivered
        to a local webhook inside that run), then a second ``once`` (all 304), against
        a fresh Python process running reader's ``update_feeds(workers=4)`` on a
        database where the feeds were added beforehand, then again (all 304). The
        measured ``monitor`` package is compiled to bytecode first, as an install is.

    (f) with ``--before TREE``: (a) and (d) also with the ``monitor`` package of another
        checkout (``git archive COMMIT monitor | tar -x -C TREE``), in the same run;
        with ``--postgres URL``: (a)+(b) also on PostgreSQL, in a database of its own.

Run:  python bench/ingest.py [--reader-python /path/to/venv/bin/python] [--quick]
reader is NOT a project dependency: install it into a separate venv
(``python -m venv /tmp/reader-venv && /tmp/reader-venv/bin/pip install reader``).
Results are printed; record them by hand in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import random
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("MONITOR_SHARED_DATA", HERE.parents[1] / "shared" / "data"))
ITEMS = 50


# -- the farm ------------------------------------------------------------------------------


def corpus() -> list[tuple[str, str]]:
    with (SHARED / "corpus" / "ag_news" / "test.csv").open(newline="", encoding="utf-8") as f:
        return [(title, desc.replace("\\", " ")) for _label, title, desc in csv.reader(f)]


def write_farm(root: Path, feeds: int, items: int, rows: list[tuple[str, str]]) -> None:
    """feed files f0.xml ... (RSS 2.0), each item distinct (guid and link)."""
    root.mkdir(parents=True, exist_ok=True)
    # Dated within the last hour: every item is inside `poll.backlog` (default 1d), so a
    # first `once` alerts on all of its matches, as it must in (d).
    now = datetime.now(UTC).replace(microsecond=0)
    for i in range(feeds):
        parts = [(f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                  f"<title>Farm {i}</title><link>https://bench.test/{i}/</link>")]
        for j in range(items):
            title, desc = rows[(i * items + j) % len(rows)]
            when = format_datetime(now - timedelta(seconds=60 * (items - j) + i % 60),
                                   usegmt=True)
            parts.append(f"<item><title>{escape(title)}</title>"
                         f"<link>https://bench.test/{i}/{j}</link><guid>f{i}-{j}</guid>"
                         f"<pubDate>{when}</pubDate><description>{escape(desc)}</description>"
                         "</item>")
        parts.append("</channel></rss>")
        (root / f"f{i}.xml").write_text("".join(parts), encoding="utf-8")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


NGINX_CONF = """
worker_processes 2;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 8192; }}
http {{
  access_log off;
  types {{ application/rss+xml xml; }}
  default_type application/octet-stream;
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  server {{ listen 127.0.0.1:{port} backlog=4096; root {dir}/www; etag on; }}
}}
"""


def start_nginx(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        raise SystemExit("nginx not found: apt-get install -y nginx-light")
    port = free_port()
    conf = workdir / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=workdir, port=port), encoding="utf-8")
    for p in (workdir, workdir / "www"):  # nginx workers run as nobody
        p.chmod(0o755)
    proc = subprocess.Popen([nginx, "-p", str(workdir), "-c", str(conf), "-g", "daemon off;"])
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise SystemExit(f"nginx did not start: {(workdir / 'error.log').read_text()}")
            time.sleep(0.05)


# -- news-monitor (run in a child process: `ingest.py ours ...`) ---------------------------


def rules_and_entities(n: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    sys.path.insert(0, str(HERE))
    import matching  # the matching benchmark's seeded rule generator

    articles = matching.load_articles()
    words, phrases, names = matching.vocabulary(articles)
    rng = random.Random(1)
    entities = matching.make_entities(names, rng)
    specs = matching.make_rules(n, words, phrases, entities, rng)
    rules = [{"name": r.name, "query": r.query, "notify": ["sink"]} for r in specs]
    return rules, {k: {"aliases": v} for k, v in entities.items()}


def run_ours(base: str, feeds: int, rules: int, db: str, per_host: int,
             concurrency: int, parse_workers: int = 0, stories: bool = True) -> dict[str, Any]:
    from monitor.config import Settings
    from monitor.service import Monitor

    rule_list, entities = rules_and_entities(rules)
    settings = Settings.model_validate({
        "database": db,
        "poll": {"concurrency": concurrency, "per_host": per_host, "timeout": 60,
                 "full_text": False,
                 "parse_workers": parse_workers},
        "feeds": [{"url": f"{base}/f{i}.xml"} for i in range(feeds)],
        "recipients": {"sink": ["json://127.0.0.1:9/"]},
        "rules": rule_list,
        "entities": entities,
        "stories": {"enabled": stories},
    })
    monitor = Monitor.from_settings(settings)
    parse_cpu = count_parse_cpu()
    try:
        cpu = time.process_time()
        started = time.perf_counter()
        first = asyncio.run(monitor.poll(all_feeds=True))
        first_s = time.perf_counter() - started
        cpu_s = time.process_time() - cpu
        rss_first = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started = time.perf_counter()
        second = asyncio.run(monitor.poll(all_feeds=True))
        second_s = time.perf_counter() - started
    finally:
        monitor.close()
    return {
        "articles": first.new_articles, "matches": first.new_matches, "failed": first.failed,
        "first_s": first_s, "not_modified": second.not_modified, "second_s": second_s,
        "feeds": feeds, "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "maxrss_first_mb": rss_first, "cpu_s": cpu_s, "parse_cpu_s": sum(parse_cpu),
    }


def count_parse_cpu() -> list[float]:
    """CPU seconds spent in parse_feed, summed over the threads that call it (when it
    runs in this process: ``parse_workers: 0``); the list grows by one per call."""
    import monitor.poll.ingest

    spent: list[float] = []
    inner = monitor.poll.ingest.parse_feed

    def timed_parse(*args: Any, **kwargs: Any) -> Any:
        started = time.thread_time()
        try:
            return inner(*args, **kwargs)
        finally:
            spent.append(time.thread_time() - started)

    monitor.poll.ingest.parse_feed = timed_parse  # type: ignore[assignment]
    return spent


# -- reader (run with the reader venv's python) -----------------------------------------

READER_SCRIPT = r"""
import json, sys, time, resource
from reader import make_reader
db, base, feeds, workers = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
r = make_reader(db)
for i in range(feeds):
    r.add_feed(f"{base}/f{i}.xml")
# scheduled=False: fetch every feed now (by default reader skips feeds not due yet).
t, cpu = time.perf_counter(), time.process_time()
r.update_feeds(workers=workers, scheduled=False)
first, cpu_s = time.perf_counter() - t, time.process_time() - cpu
articles = r.get_entry_counts().total
t = time.perf_counter(); r.update_feeds(workers=workers, scheduled=False)
second = time.perf_counter() - t
r.close()
print(json.dumps({"articles": articles, "first_s": first, "second_s": second, "feeds": feeds,
                  "cpu_s": cpu_s, "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def child(cmd: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{cmd[:3]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def ours(base: str, feeds: int, rules: int, db: Path | str, per_host: int = 20,
         concurrency: int = 20, parse_workers: int = 0, stories: bool = False,
         tree: str | None = None) -> dict[str, Any]:
    """news-monitor in a child process; ``db`` a SQLite path or a database URL; ``tree``
    another checkout whose ``monitor`` package runs instead (the code before a change)."""
    url = db if isinstance(db, str) else f"sqlite:///{db}"
    return child([sys.executable, str(Path(__file__).resolve()), "ours", base, str(feeds),
                  str(rules), url, str(per_host), str(concurrency),
                  str(parse_workers), str(int(stories))], env=code_env(tree))


def code_env(tree: str | None) -> dict[str, str] | None:
    """The environment that makes a child import ``monitor`` from ``tree`` (None: ours)."""
    if tree is None:
        return None
    return {**os.environ, "PYTHONPATH": os.pathsep.join([tree, os.environ.get("PYTHONPATH", "")])}


def stories_ab(base: str, feeds: int, work: Path, runs: int = 2, parse_workers: int = 0,
               before: str | None = None) -> str:
    """(e) (a) with stories (and language detection) off and on, interleaved, same farm;
    with ``before`` (a checkout), its code too, alternating with ours in each round."""
    trees = {"": None} if before is None else {"": None, "before: ": before}
    rates: dict[tuple[str, bool], list[float]] = {(t, on): [] for t in trees for on in (0, 1)}
    for n in range(runs):
        for label, tree in trees.items():
            for on in (False, True):
                r = ours(base, feeds, 1000, work / f"ab-{n}-{len(label)}-{int(on)}.db",
                         stories=on, parse_workers=parse_workers, tree=tree)
                rates[label, on].append(r["articles"] / r["first_s"])
    out = ("\n(e) first ingest, stories off vs on (articles/s, each run; "
           f"parse_workers {parse_workers}):")
    for label in trees:
        off, on = (sum(v) / len(v) for v in (rates[label, False], rates[label, True]))
        out += (f"\n{label}off {', '.join(f'{x:,.0f}' for x in rates[label, False])}; "
                f"on {', '.join(f'{x:,.0f}' for x in rates[label, True])}; "
                f"mean on/off = {on / off:.2f} (target >= 0.80)")
    return out + "\n"


def reader(python: str, base: str, feeds: int, workers: int, db: Path) -> dict[str, Any]:
    return child([python, "-c", READER_SCRIPT, str(db), base, str(feeds), str(workers)])


# -- whole processes (d): what a cron job runs, start-up included ----------------------------


def two_word_rules(n: int) -> list[dict[str, Any]]:
    """`w1 AND w2` over mid-frequency corpus words (seeded): the issue's rule set for (d)."""
    sys.path.insert(0, str(HERE))
    import matching

    # Ranks 300-1,300 of the corpus words: about 950 matches over the 25,000 farm items,
    # close to the 764 of the run, so delivery is part of what is timed.
    words = matching.vocabulary(matching.load_articles())[0][:1000]
    rng = random.Random(2)
    return [{"name": f"r{i}", "query": f"{rng.choice(words)} AND {rng.choice(words)}",
             "notify": ["sink"]} for i in range(n)]


class Sink:
    """A local webhook that counts the alerts apprise posts to it (json://)."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        sink = self
        self.count = 0
        self._lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with sink._lock:
                    sink.count += 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


def timed(cmd: list[str], env: dict[str, str] | None = None,
          cwd: str | None = None) -> dict[str, Any]:
    """Run one whole process: wall seconds from spawn to exit, and the CPU seconds of
    the process and the children it waited for (a parse process)."""
    started, cpu = time.perf_counter(), children_cpu_s()
    done = subprocess.run(cmd, capture_output=True, env=env, check=False, cwd=cwd)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{cmd[:4]} exited {done.returncode}:\n{done.stderr.decode()[-3000:]}")
    return {"s": seconds, "cpu_s": children_cpu_s() - cpu, "out": done.stdout.decode()}


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def whole_ours(base: str, feeds: int, rules: int, work: Path,
               tree: str | None = None) -> dict[str, Any]:
    """`news-monitor once` twice, as processes, on a migrated empty database."""
    import yaml

    rule_list = two_word_rules(rules)
    sink = Sink()
    name = "whole-before" if tree else "whole"
    config = work / f"{name}.yaml"
    config.write_text(yaml.safe_dump({
        "database": f"sqlite:///{work / (name + '.db')}",
        # full_text off: reader reads feeds only, and the farm's links lead nowhere.
        "poll": {"concurrency": 20, "per_host": 20, "timeout": 60, "full_text": False},
        "feeds": [{"url": f"{base}/f{i}.xml"} for i in range(feeds)],
        "recipients": {"sink": [sink.url]},
        "rules": rule_list,
    }), encoding="utf-8")
    exe = [sys.executable, "-m", "monitor"]
    env = {k: v for k, v in (code_env(tree) or os.environ).items()
           if not k.startswith("MONITOR_")}
    try:
        # `python -m` puts the working directory first on sys.path: run in the tree.
        subprocess.run([*exe, "db", "upgrade", "-c", str(config)], env=env, check=True, cwd=tree,
                       capture_output=True)
        precompile(env, tree)
        first = timed([*exe, "once", "-c", str(config)], env, tree)
        alerts_first = sink.count
        second = timed([*exe, "once", "-c", str(config)], env, tree)
    finally:
        sink.close()
    def count(*args: str) -> int:
        return subprocess.run([*exe, *args, "--format", "jsonl", "-c", str(config)], env=env, cwd=tree,
                              capture_output=True, text=True, check=True).stdout.count("\n")

    return {"first_s": first["s"], "second_s": second["s"], "alerts": alerts_first,
            "first_cpu_s": first["cpu_s"], "second_cpu_s": second["cpu_s"],
            "matches": count("matches", "--since", "3650d"),
            "pending_after": count("alerts", "list", "--status", "pending"), "feeds": feeds,
            "again": ([*exe, "once", "-c", str(config)], env, tree)}


def precompile(env: dict[str, str], cwd: str | None) -> None:
    """Write the bytecode of the ``monitor`` package the child imports, as ``pip install``
    does. This machine sets PYTHONDONTWRITEBYTECODE: a source checkout would otherwise
    be compiled anew by every process (~0.1 s of each ``once``), which no installed copy
    pays (reader's, from its venv, has its bytecode). __pycache__ is git-ignored."""
    where = subprocess.run([sys.executable, "-c", "import monitor; print(monitor.__path__[0])"],
                           env=env, cwd=cwd, capture_output=True, text=True, check=True)
    subprocess.run([sys.executable, "-m", "compileall", "-q", where.stdout.strip()], env=env,
                   cwd=cwd, check=True, capture_output=True)


READER_ADD = r"""
import sys
from reader import make_reader
r = make_reader(sys.argv[1])
for i in range(int(sys.argv[3])):
    r.add_feed(f"{sys.argv[2]}/f{i}.xml")
r.close()
"""

READER_UPDATE = r"""
import sys
from reader import make_reader
r = make_reader(sys.argv[1])
r.update_feeds(workers=int(sys.argv[2]), scheduled=False)
r.close()
"""


def whole_reader(python: str, base: str, feeds: int, workers: int, db: Path) -> dict[str, Any]:
    """reader's update as a fresh process, twice; adding the feeds is not timed."""
    subprocess.run([python, "-c", READER_ADD, str(db), base, str(feeds)], check=True)
    first = timed([python, "-c", READER_UPDATE, str(db), str(workers)])
    second = timed([python, "-c", READER_UPDATE, str(db), str(workers)])
    return {"first_s": first["s"], "second_s": second["s"], "feeds": feeds,
            "first_cpu_s": first["cpu_s"], "second_cpu_s": second["cpu_s"],
            "again": ([python, "-c", READER_UPDATE, str(db), str(workers)], None, None)}


def repeat_304(runs: list[dict[str, Any]], times: int) -> None:
    """Run each tool's all-304 cycle ``times`` more, taking turns (ours, reader, ...), and
    keep the median wall and CPU seconds of all its cycles as ``second_s``/``second_cpu_s``:
    one cycle is about a second, and a shared machine moves single runs by a third."""
    walls = [[r["second_s"]] for r in runs]
    cpus = [[r["second_cpu_s"]] for r in runs]
    for _ in range(times):
        for i, run in enumerate(runs):
            cmd, env, cwd = run["again"]
            t = timed(cmd, env, cwd)
            walls[i].append(t["s"])
            cpus[i].append(t["cpu_s"])
    for run, wall, cpu in zip(runs, walls, cpus, strict=True):
        run["second_s"], run["second_cpu_s"] = statistics.median(wall), statistics.median(cpu)
        run["second_runs"] = len(wall)


def render_whole(ours_: dict[str, Any], r4: dict[str, Any]) -> str:
    ratio_a = r4["first_s"] / ours_["first_s"]
    ratio_b = r4["second_s"] / ours_["second_s"]
    return (
        "\n\n(d) whole processes, start-up included (cron-style):\n\n"
        "| measure | news-monitor `once` | reader@4 `update_feeds` process | ratio | target |\n"
        "|---|---|---|---|---|\n"
        f"| first ingest, {ours_['feeds']} feeds, s | {ours_['first_s']:.2f} | "
        f"{r4['first_s']:.2f} | {ratio_a:.2f}x | >= 1.5x |\n"
        f"| all-304 cycle, s (median of {ours_.get('second_runs', 1)}, taking turns) | "
        f"{ours_['second_s']:.2f} | {r4['second_s']:.2f} | {ratio_b:.2f}x | >= 2x |\n"
        f"\nAlerts received by the local webhook during the first `once`: "
        f"{ours_['alerts']:,} (matches stored: {ours_['matches']:,}); still pending afterwards: "
        f"{ours_['pending_after']:,}."
    )


# -- the report --------------------------------------------------------------------------


def table(rows: list[tuple[str, ...]]) -> str:
    head = ("measure", "news-monitor", "reader 1 worker", "reader 4 workers", "target")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "ours":
        base, feeds, rules, db, per_host, conc, workers, stories = sys.argv[2:10]
        print(json.dumps(run_ours(base, int(feeds), int(rules), db, int(per_host), int(conc),
                                  int(workers), bool(int(stories)))))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reader-python", default="/tmp/reader-venv/bin/python")
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--big-feeds", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="small sizes, to try it out")
    parser.add_argument("--only-whole", action="store_true",
                        help="run only (d), the whole-process comparison")
    parser.add_argument("--only-stories", action="store_true",
                        help="run only (e), the first ingest with stories off and on")
    parser.add_argument("--parse-workers", type=int, default=0,
                        help="poll.parse_workers of (e) (0: parse in threads, as recorded "
                             "before; 1: a parse process, the default on 2+ CPUs)")
    parser.add_argument("--repeat-304", type=int, default=6, metavar="N",
                        help="(d): N more all-304 cycles of each tool, taking turns; the "
                             "median of all is reported (default 6)")
    parser.add_argument("--no-big", action="store_true", help="skip (c), the 10,000-feed run")
    parser.add_argument("--before", metavar="TREE",
                        help="also run (a), (d) and (e) with the monitor package of this checkout "
                             "(e.g. a git worktree of the commit before a change)")
    parser.add_argument("--postgres", metavar="URL",
                        help="also run (a)+(b) on PostgreSQL: a server URL such as "
                             "postgresql://postgres@127.0.0.1:5432/test; a database is "
                             "created for each run and dropped after it")
    args = parser.parse_args()
    if args.quick:
        args.feeds, args.big_feeds = 50, 500
    args.load_before = os.getloadavg()[0]  # reported: other work on a shared machine
    rows = corpus()
    with tempfile.TemporaryDirectory(prefix="nm-bench-") as tmp:
        work = Path(tmp)
        big = 0 if args.no_big or args.only_whole or args.only_stories else args.big_feeds
        write_farm(work / "www", max(args.feeds, big), ITEMS, rows)
        small = work / "www" / "small"  # the big run: 5 items per feed
        write_farm(small, big, 5, rows)
        proc, base = start_nginx(work)
        try:
            if args.only_stories:
                print(stories_ab(base, args.feeds, work, parse_workers=args.parse_workers,
                                 before=args.before))
                return 0
            extra: list[tuple[str, ...]] = []
            if args.before and not args.only_whole:
                before = ours(base, args.feeds, 1000, work / "before.db", tree=args.before)
                before_pool = ours(base, args.feeds, 1000, work / "before-pool.db",
                                   parse_workers=1, tree=args.before)
            if not args.only_whole:
                a_ours = ours(base, args.feeds, 1000, work / "ours.db")
                a_pool = ours(base, args.feeds, 1000, work / "pool.db", parse_workers=1)
                a_r1 = reader(args.reader_python, base, args.feeds, 1, work / "r1.db")
                a_r4 = reader(args.reader_python, base, args.feeds, 4, work / "r4.db")
                c_ours = (None if args.no_big else
                          ours(base + "/small", args.big_feeds, 10_000, work / "big.db"))
                if args.postgres:
                    with postgres_database(args.postgres) as url:
                        a_pg = ours(base, args.feeds, 1000, url)
                    extra += postgres_rows(a_ours, a_pg)
                if args.before:
                    extra += before_rows(before, before_pool, a_ours, a_pool, a_r4)
            if args.before:
                d_before = whole_ours(base, args.feeds, 1000, work, tree=args.before)
            d_ours = whole_ours(base, args.feeds, 1000, work)
            d_r4 = whole_reader(args.reader_python, base, args.feeds, 4, work / "wr4.db")
            repeat_304([d_ours, d_r4, *([d_before] if args.before else [])], args.repeat_304)
            if args.before:
                extra += whole_before_rows(d_before, d_ours, d_r4)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    report = "" if args.only_whole else render(args, a_ours, a_r1, a_r4, c_ours, a_pool)
    report += render_whole(d_ours, d_r4)
    if extra:
        head = ("measure", "before", "after / SQLite", "reader@4 or ratio", "target")
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(r) + " |" for r in extra]
        report += "\n\n(f) before/after (--before) and PostgreSQL (--postgres):\n\n"
        report += "\n".join(lines)
    print(report)  # recorded by hand in bench/RESULTS.md, beside the other benchmarks
    return 0


def share(d: dict[str, Any]) -> str:
    return f"{d['parse_cpu_s'] / d['cpu_s']:.0%} ({d['parse_cpu_s']:.1f} of {d['cpu_s']:.1f} s)"


def rate(d: dict[str, Any]) -> float:
    return float(d["articles"] / d["first_s"])


def ratio(x: float, y: float) -> str:
    return f"{x / y:.2f}x"


def before_rows(before: dict[str, Any], before_pool: dict[str, Any], a: dict[str, Any],
                pool: dict[str, Any], r4: dict[str, Any]) -> list[tuple[str, ...]]:
    r = rate(r4)
    threads = f"{r:,.0f}: {ratio(rate(before), r)} -> {ratio(rate(a), r)}"
    procs = f"{ratio(rate(before_pool), r)} -> {ratio(rate(pool), r)}"
    return [
        ("(a) first ingest, parsing in threads: articles/s", f"{rate(before):,.0f}",
         f"{rate(a):,.0f}", threads, ">= 3x reader@4"),
        ("(a) with a parse process (parse_workers: 1): articles/s", f"{rate(before_pool):,.0f}",
         f"{rate(pool):,.0f}", procs, ">= 3x reader@4"),
        ("(a) parse share of the process CPU (threads)", share(before), share(a), "", "< 20%"),
        ("(a) CPU seconds per 1,000 articles (threads; reader@4: all its threads)",
         f"{cpu_k(before):.2f}", f"{cpu_k(a):.2f}",
         f"{cpu_k(r4):.2f}: {ratio(cpu_k(r4), cpu_k(before))} -> {ratio(cpu_k(r4), cpu_k(a))}",
         "CPU view of the 3x, less noisy on a loaded machine"),
    ]


def cpu_k(d: dict[str, Any]) -> float:
    return float(d["cpu_s"] / d["articles"] * 1000)


def whole_before_rows(before: dict[str, Any], after: dict[str, Any],
                      r4: dict[str, Any]) -> list[tuple[str, ...]]:
    r = r4["first_s"]
    ratios = f"{r:.2f}: {ratio(r, before['first_s'])} -> {ratio(r, after['first_s'])}"
    c = r4["first_cpu_s"]
    cpus = f"{c:.2f}: {ratio(c, before['first_cpu_s'])} -> {ratio(c, after['first_cpu_s'])}"
    r2, c2 = r4["second_s"], r4["second_cpu_s"]
    return [("(d) first `once`, whole process: s", f"{before['first_s']:.2f}",
             f"{after['first_s']:.2f}", ratios, ">= 2x reader@4"),
            ("(d) first `once`: CPU seconds (with its parse process)",
             f"{before['first_cpu_s']:.2f}", f"{after['first_cpu_s']:.2f}", cpus, ""),
            ("(d) all-304 `once`, whole process: s", f"{before['second_s']:.2f}",
             f"{after['second_s']:.2f}",
             f"{r2:.2f}: {ratio(r2, before['second_s'])} -> {ratio(r2, after['second_s'])}",
             ">= 2x reader@4"),
            ("(d) all-304 `once`: CPU seconds", f"{before['second_cpu_s']:.2f}",
             f"{after['second_cpu_s']:.2f}",
             f"{c2:.2f}: {ratio(c2, before['second_cpu_s'])} -> "
             f"{ratio(c2, after['second_cpu_s'])}", "")]


def postgres_rows(sqlite_run: dict[str, Any], pg: dict[str, Any]) -> list[tuple[str, ...]]:
    def fps(d: dict[str, Any]) -> float:
        return float(d["feeds"] / d["second_s"])

    first = f"{rate(pg):,.0f} / SQLite {rate(sqlite_run):,.0f}"
    second = f"{fps(pg):,.0f} / SQLite {fps(sqlite_run):,.0f}"
    return [
        ("(a) first ingest on PostgreSQL: articles/s", "", first,
         f"time {ratio(pg['first_s'], sqlite_run['first_s'])} SQLite's", "<= 1.5x SQLite's"),
        ("(b) 304 cycle on PostgreSQL: feeds/s", "", second,
         f"time {ratio(pg['second_s'], sqlite_run['second_s'])} SQLite's", "<= 1.5x SQLite's"),
    ]


class postgres_database:
    """A database of its own on the server at ``url``, dropped afterwards; yields its
    SQLAlchemy URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.name = f"nm_bench_{os.getpid()}_{int(time.time())}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(sql)  # the name is ours, made of [a-z0-9_]

    def __enter__(self) -> str:
        self._admin(f"CREATE DATABASE {self.name}")
        base = self.url.replace("postgresql://", "postgresql+psycopg://", 1).rsplit("/", 1)[0]
        return f"{base}/{self.name}"

    def __exit__(self, *exc: object) -> None:
        self._admin(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")


def render(args: argparse.Namespace, a: dict[str, Any], r1: dict[str, Any],
           r4: dict[str, Any], c: dict[str, Any] | None, pool: dict[str, Any]) -> str:
    def aps(d: dict[str, Any]) -> str:
        return f"{d['articles'] / d['first_s']:,.0f} ({d['articles']:,} in {d['first_s']:.1f} s)"

    def fps(d: dict[str, Any]) -> str:
        return f"{d['feeds'] / d['second_s']:,.0f} ({d['second_s']:.2f} s)"

    rows = [
        (f"(a) first ingest, {args.feeds} feeds x {ITEMS} items: articles/s",
         aps(a), aps(r1), aps(r4), ">= 2x reader@4"),
        ("(a) the same with poll.parse_workers: 1 (parsing in a 2nd process)", aps(pool),
         "-", "-", ""),
        ("(a) parse share of the process CPU (parsing in threads)", share(a), "-", "-",
         "< 20%"),
        ("(b) all-304 cycle: feeds/s", fps(a), fps(r1), fps(r4), ">= 2,000 and >= 4x reader"),
        ("peak RSS of (a)+(b), MB", f"{a['maxrss_mb']:.0f}", f"{r1['maxrss_mb']:.0f}",
         f"{r4['maxrss_mb']:.0f}", ""),
    ]
    if c is not None:
        rows += [
            ((f"(c) peak RSS, {args.big_feeds:,} feeds x 5 items + 10,000 rules, first ingest "
              "then a 304 cycle, MB"), f"{c['maxrss_mb']:.0f}", "-", "-", "<= 300"),
            ("(c) that first ingest: articles/s", aps(c), "-", "-", ""),
            ("(c) that 304 cycle: feeds/s", fps(c), "-", "-", ""),
        ]
    ratio_a = (a["articles"] / a["first_s"]) / (r4["articles"] / r4["first_s"])
    ratio_b = (a["feeds"] / a["second_s"]) / (r4["feeds"] / r4["second_s"])
    notes = (
        f"\nnews-monitor vs reader@4: (a) {ratio_a:.1f}x, (b) {ratio_b:.1f}x. "
        f"news-monitor matched {a['matches']:,} rule hits in (a) and wrote their outbox rows; "
        "reader neither matches nor alerts. news-monitor: SQLite, concurrency 20, per_host 20 "
        "(the whole farm is one host; the default per_host of 2 is for the real world). "
        f"Failed feeds: {a['failed']} in (a), {c['failed'] if c else '-'} in (c). "
        f"Machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}; "
        "nginx-light from Debian serves the farm."
        f"\n\nRun {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: `python {' '.join(sys.argv)}` "
        f"(feeds {args.feeds}, big feeds {args.big_feeds:,}); 1-minute load average "
        f"{args.load_before:.2f} before the run, {os.getloadavg()[0]:.2f} after."
    )
    return ("# Ingest benchmark (bench/ingest.py)\n\n" + table(rows) + "\n" + notes
            + verdict(a, pool, r4, c))


def verdict(a: dict[str, Any], pool: dict[str, Any], r4: dict[str, Any],
            c: dict[str, Any] | None) -> str:
    """The issue's targets, met or missed, computed from this run."""
    def met(ok: bool) -> str:
        return "met" if ok else "MISSED"

    goal_a = 2 * r4["articles"] / r4["first_s"]
    threads, procs = a["articles"] / a["first_s"], pool["articles"] / pool["first_s"]
    fps, goal_b = a["feeds"] / a["second_s"], max(2000.0, 4 * r4["feeds"] / r4["second_s"])
    return (
        f"\n\nTargets in this run: (a) >= 2x reader@4 = {goal_a:,.0f} articles/s: "
        f"{met(threads >= goal_a)} parsing in threads ({threads / goal_a:.0%} of it), "
        f"{met(procs >= goal_a)} with a parse process ({procs / goal_a:.0%} of it). "
        f"(b) >= {goal_b:,.0f} feeds/s (2,000 and 4x reader@4): {met(fps >= goal_b)} "
        f"({fps:,.0f})."
        + (f" (c) <= 300 MB: {met(c['maxrss_mb'] <= 300)} ({c['maxrss_mb']:.0f} MB)." if c else "")
    )


if __name__ == "__main__":
    raise SystemExit(main())
