"""Web benchmark: latency and server CPU of the dashboard and API under load, before
and after a change on the same data, and what the load costs the daemon's poll cycle.

Per backend (SQLite file, PostgreSQL schema):
  1. store ARTICLES articles (text from ``corpus/ag_news``, read in place from
     ``$MONITOR_SHARED_DATA`` or ``../shared/data``) and MATCHES matches with evidence;
  2. for each code version (``--baseline REF``, checked out from git into a temporary
     folder, then this checkout): start ``news-monitor serve [--workers N]`` on that
     database (its own processes, as a replica) and run CLIENTS concurrent clients for
     SECONDS seconds, round robin over the matches page, a search on the matches page,
     the matches API and a search through the API; per endpoint: requests, p50, p95,
     p99 (ms); overall, the server's CPU time per request (from /proc: independent of
     what else the machine runs, unlike latency on a shared machine);
  3. the in-process ingest benchmark (``bench/ingest.py ours``: a farm of feeds on
     nginx, first ingest, 100 rules, one parse process), once alone and once while the
     clients run against this checkout's server. SQLite: into a copy of the seeded
     database, and, beside the load, into the very database the server reads (WAL: a
     reader must not hold up the writer); PostgreSQL: into fresh schemas (MVCC readers
     take no locks a writer waits for). On 2 CPUs the cost is mostly CPU shared with
     the web server and the clients (the load generator runs on the same machine).

Run:  python bench/web.py [--articles 100000] [--matches 50000] [--seconds 30]
      [--clients 20] [--workers 1] [--baseline fc4048f] [--backend sqlite ...]
Results are printed; record them by hand in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import ingest  # the farm, nginx and the in-process ingest child

TOKEN = "bench-token-0123456789abcdef"
PG_ADMIN = os.environ.get("MONITOR_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
SEARCH_WORDS = ["oil", "election", "market", "court", "space", "china", "game", "bank"]
FEEDS = 50
NICE = 10  # serve's default --nice


def seed(url: str, articles: int, matches: int) -> None:
    """ARTICLES distinct articles over FEEDS feeds; every (articles/matches)-th one
    matched by one of 10 rules, with evidence, stored through the store's own path."""
    from monitor.article import Article, FeedSpec, Hit, Match
    from monitor.store.repo import Store

    rows = ingest.corpus()
    now = datetime.now(UTC)
    every = max(1, articles // max(1, matches))
    with Store.open(url) as store:
        specs = [FeedSpec(url=f"https://bench.example/f{i}.xml", name=f"Feed {i}",
                          tags=(f"t{i % 5}",)) for i in range(FEEDS)]
        store.sync_feeds(specs, now)
        feeds = store.claim_due_feeds(now, owner="seed", include_not_due=True)
        per_feed: dict[int, list[tuple[Article, list[Match]]]] = {f.id: [] for f in feeds}
        made = 0
        for i in range(articles):
            title, desc = rows[i % len(rows)]
            feed = feeds[i % len(feeds)]
            art = Article(feed_url=feed.url, feed_name=feed.name, feed_tags=feed.tags,
                          key=f"k{i}", guid=f"k{i}", link=f"https://bench.example/a{i}",
                          canonical_url=f"https://bench.example/a{i}", title=f"{title} #{i}",
                          summary=desc, published=now - timedelta(seconds=articles - i))
            found: list[Match] = []
            if i % every == 0 and made < matches:
                word = title.split()[0] if title.split() else "x"
                found.append(Match(rule=f"rule-{i % 10}", snippet=f"«{word}» …",
                                   hits=(Hit(word, "title", 0, len(word), word),)))
                made += 1
            per_feed[feed.id].append((art, found))
            if len(per_feed[feed.id]) >= 500:
                store.save_articles(feed.id, per_feed[feed.id], {}, now)
                per_feed[feed.id] = []
        for feed_id, items in per_feed.items():
            if items:
                store.save_articles(feed_id, items, {}, now)
        store.record_fetches([])


def start_server(url: str, workdir: Path, code: Path, workers: int = 1,
                 nice: int = 0) -> tuple[subprocess.Popen[bytes], str]:
    """``news-monitor serve`` of the checkout at ``code`` over ``url``."""
    port = ingest.free_port()
    config = workdir / "web.yaml"
    rules = "".join(f'  - {{name: rule-{i}, query: "x{i}", notify: []}}\n' for i in range(10))
    config.write_text(f'http:\n  listen: 127.0.0.1:{port}\n  tokens:\n'
                      f'    bench: {{token: "{TOKEN}", role: read}}\nrules:\n{rules}',
                      encoding="utf-8")
    env = {**os.environ, "MONITOR_DATABASE_URL": url, "PYTHONPATH": str(code)}
    extra = ["--workers", str(workers)] if workers > 1 else []
    if nice >= 0:  # -1: an older serve without --nice
        extra += ["--nice", str(nice)]
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "serve", "-c", str(config),
                             *extra], cwd=code, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    import urllib.request

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=2):
                return proc, base
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"serve did not start: {proc.stderr.read().decode() if proc.stderr else ''}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its living descendants (Linux /proc)."""
    total = 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += cpu_seconds(int(child))
    except (OSError, IndexError, ValueError):
        pass
    return total


def checkout(ref: str, into: Path) -> Path:
    """The package as of git ``ref``, extracted (not a worktree: nothing to clean up)."""
    into.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(HERE.parent), "archive", ref, "monitor"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


ENDPOINTS = {
    "matches page": lambda i: "/matches",
    # i // 4: every endpoint sees every word (common and rare ones alike).
    "search page": lambda i: f"/matches?q={SEARCH_WORDS[i // 4 % len(SEARCH_WORDS)]}",
    "API matches": lambda i: "/api/v1/matches?limit=50",
    "API search": lambda i: f"/api/v1/matches?q={SEARCH_WORDS[i // 4 % len(SEARCH_WORDS)]}",
}


async def load(base: str, clients: int, seconds: float) -> dict[str, list[float]]:
    import aiohttp

    times: dict[str, list[float]] = {name: [] for name in ENDPOINTS}
    errors = 0
    names = list(ENDPOINTS)
    stop_at = time.monotonic() + seconds
    headers = {"Authorization": f"Bearer {TOKEN}"}

    async def client(n: int, session: aiohttp.ClientSession) -> None:
        nonlocal errors
        i = n
        while time.monotonic() < stop_at:
            name = names[i % len(names)]
            started = time.perf_counter()
            async with session.get(base + ENDPOINTS[name](i), headers=headers) as response:
                await response.read()
                if response.status != 200:
                    errors += 1
            times[name].append((time.perf_counter() - started) * 1000)
            i += 1

    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(client(n, session) for n in range(clients)))
    if errors:
        raise SystemExit(f"{errors} requests failed")
    return times


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(
        values) > 1 else (values[0] if values else 0.0)


def ingest_child(farm: str, url: str, feeds: int) -> dict[str, Any]:
    # Stories off: the default (``stories.enabled: false``).
    return ingest.child([sys.executable, str(HERE / "ingest.py"), "ours", farm, str(feeds),
                         "100", url, "20", "20", "1", "0"])


def pg_url() -> tuple[str, str]:
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    base = PG_ADMIN.replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{base}?options=-csearch_path%3D{schema}", schema


def drop_pg(schema: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def fresh_url(backend: str, work: Path, name: str, schemas: list[str]) -> str:
    if backend == "sqlite":
        return f"sqlite:///{work / name}.db"
    url, schema = pg_url()
    schemas.append(schema)
    return url


def measure(url: str, work: Path, code: Path, args: argparse.Namespace, during: Any = None,
            workers: int = 1, nice: int = 0) -> tuple[dict[str, list[float]], float, Any]:
    """Serve ``url`` with the checkout ``code`` and load it; (times per endpoint, server
    CPU ms per request, what ``during()`` returned, run in a thread under the load)."""
    proc, base = start_server(url, work, code, workers, nice)
    try:
        asyncio.run(load(base, args.clients, 3))  # warm-up, not counted
        box: dict[str, Any] = {}

        async def both() -> None:
            task = asyncio.create_task(load(base, args.clients, args.seconds))
            if during is not None:
                await asyncio.sleep(1)
                box["during"] = await asyncio.to_thread(during)
            box["times"] = await task

        cpu_before = cpu_seconds(proc.pid)
        asyncio.run(both())
        cpu = cpu_seconds(proc.pid) - cpu_before
    finally:
        proc.terminate()
        proc.wait(30)
    times = box["times"]
    requests = sum(len(v) for v in times.values())
    return times, 1000 * cpu / max(1, requests), box.get("during")


def latency_table(backend: str, runs: list[tuple[str, dict[str, list[float]], float]],
                  seconds: float) -> list[str]:
    lines = [f"| {backend} endpoint | code | requests | req/s | p50 ms | p95 ms | p99 ms |",
             "|---|---|---|---|---|---|---|"]
    for name in ENDPOINTS:
        for label, times, _ in runs:
            v = times[name]
            lines.append(f"| {name} | {label} | {len(v):,} | {len(v) / seconds:.0f} | "
                         f"{pct(v, 50):.0f} | {pct(v, 95):.0f} | {pct(v, 99):.0f} |")
    for label, times, cpu_ms in runs:
        every = [v for values in times.values() for v in values]
        lines.append(f"| all | {label} | {len(every):,} | {len(every) / seconds:.0f} | "
                     f"{pct(every, 50):.0f} | {pct(every, 95):.0f} | {pct(every, 99):.0f} |")
    lines.append("")
    lines += [f"{backend} server CPU per request ({label}): {cpu_ms:.1f} ms"
              for label, _, cpu_ms in runs]
    return lines


def fresh_copy(backend: str, work: Path, url: str, schemas: list[str]) -> str:
    """A second ingest target like the first: on SQLite a copy of the seeded database
    taken before (the served one has the farm's articles by then), served itself;
    on PostgreSQL a fresh schema."""
    if backend == "sqlite":
        return f"sqlite:///{work / 'beside2.db'}"
    return fresh_url(backend, work, "beside2", schemas)


def run_backend(backend: str, args: argparse.Namespace, farm: str, work: Path) -> list[str]:
    schemas: list[str] = []
    lines: list[str] = []
    try:
        url = fresh_url(backend, work, "web", schemas)
        started = time.perf_counter()
        seed(url, args.articles, args.matches)
        lines.append(f"{backend}: seeded {args.articles:,} articles and {args.matches:,} matches "
                     f"in {time.perf_counter() - started:.0f} s")
        if backend == "sqlite":  # the ingest alone goes into a copy of the same data
            shutil.copy(work / "web.db", work / "alone.db")
            shutil.copy(work / "web.db", work / "beside2.db")
            alone_url, beside_url = f"sqlite:///{work / 'alone.db'}", url
        else:
            alone_url = fresh_url(backend, work, "alone", schemas)
            beside_url = fresh_url(backend, work, "beside", schemas)
        # Latency at normal priority (--nice 0): the machine may run other work.
        runs = []
        codes = [("after", HERE.parent, 1, 0)]
        if args.baseline:  # it predates serve --workers and --nice
            codes.insert(0, (f"before ({args.baseline})",
                             checkout(args.baseline, work / "baseline"), 1, -1))
        if args.workers > 1:
            codes.append((f"after, --workers {args.workers}", HERE.parent, args.workers, 0))
        for label, code, workers, nice in codes:
            times, cpu_ms, _ = measure(url, work, code, args, workers=workers, nice=nice)
            runs.append((label, times, cpu_ms))
        lines += latency_table(backend, runs, args.seconds)
        load_alone = os.getloadavg()[0]
        alone = ingest_child(farm, alone_url, args.feeds)
        rate_alone = alone["articles"] / alone["first_s"]
        lines.append(f"{backend} ingest (first ingest of {args.feeds} feeds x 50 items, "
                     f"100 rules): alone {rate_alone:,.0f} articles/s "
                     f"({alone['first_s']:.1f} s, load average {load_alone:.1f})")
        for nice in (0, NICE):  # serve's priority as before, then its default
            target = beside_url if nice == 0 else fresh_copy(backend, work, url, schemas)
            served = target if backend == "sqlite" else url
            _, _, loaded = measure(served, work, HERE.parent, args,
                                   lambda t=target: ingest_child(farm, t, args.feeds),
                                   nice=nice)
            rate_loaded = loaded["articles"] / loaded["first_s"]
            lines.append(f"{backend} ingest beside the web load (serve --nice {nice}): "
                         f"{rate_loaded:,.0f} articles/s ({loaded['first_s']:.1f} s): "
                         f"slowdown {100 * (1 - rate_loaded / rate_alone):.0f}%")
    finally:
        for schema in schemas:
            drop_pg(schema)
    return lines


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "ours":
        return ingest.main()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--matches", type=int, default=50_000)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--feeds", type=int, default=200, help="feeds in the ingest farm")
    parser.add_argument("--backend", action="append", choices=["sqlite", "postgresql"])
    parser.add_argument("--workers", type=int, default=1,
                        help="also measure this checkout with serve --workers N")
    parser.add_argument("--baseline", default="fc4048f",
                        help="git ref measured first, on the same data ('' to skip)")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    out: list[str] = []
    with tempfile.TemporaryDirectory(prefix="nm-web-bench-") as tmp:
        work = Path(tmp)
        ingest.write_farm(work / "www", args.feeds, ingest.ITEMS, ingest.corpus())
        nginx, farm = ingest.start_nginx(work)
        try:
            for backend in args.backend or ["sqlite", "postgresql"]:
                (work / backend).mkdir()
                out += run_backend(backend, args, farm, work / backend)
                out.append("")
        finally:
            nginx.terminate()
    out.append(f"Machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}; 1-minute load "
               f"average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after. "
               f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: python bench/web.py "
               f"--articles {args.articles} --matches {args.matches} --seconds {args.seconds:g} "
               f"--clients {args.clients} --feeds {args.feeds} --workers {args.workers} "
               f"--baseline '{args.baseline}'")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
