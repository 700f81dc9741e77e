"""Web benchmark: latency of the dashboard and API under load, and what the load costs
the daemon's poll cycle.

Per backend (SQLite file, PostgreSQL schema):
  1. store ARTICLES articles (text from ``corpus/ag_news``, read in place from
     ``$MONITOR_SHARED_DATA`` or ``../shared/data``) and MATCHES matches with evidence;
  2. start ``news-monitor serve`` on that database (its own process, as a replica);
  3. CLIENTS concurrent clients for SECONDS seconds, round robin over the matches page,
     a search on the matches page, the matches API and a search through the API;
     per endpoint: requests, p50, p95, p99 (ms);
  4. the in-process ingest benchmark (``bench/ingest.py ours``: a farm of feeds on
     nginx, first ingest, 100 rules, one parse process) on a fresh database of the same
     backend (a first ingest needs one), once alone and once while the clients run:
     articles/s and the slowdown. On 2 CPUs the cost is mostly CPU shared with the
     web server and the clients (the load generator runs on the same machine).

Run:  python bench/web.py [--articles 100000] [--matches 50000] [--seconds 30]
      [--clients 20] [--backend sqlite --backend postgresql]
Results are printed; record them by hand in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
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


def start_server(url: str, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = ingest.free_port()
    config = workdir / "web.yaml"
    rules = "".join(f'  - {{name: rule-{i}, query: "x{i}", notify: []}}\n' for i in range(10))
    config.write_text(f'http:\n  listen: 127.0.0.1:{port}\n  tokens:\n'
                      f'    bench: {{token: "{TOKEN}", role: read}}\nrules:\n{rules}',
                      encoding="utf-8")
    env = {**os.environ, "MONITOR_DATABASE_URL": url}
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "serve", "-c", str(config)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
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
    return ingest.child([sys.executable, str(HERE / "ingest.py"), "ours", farm, str(feeds),
                         "100", url, "20", "20", "1"])


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


def run_backend(backend: str, args: argparse.Namespace, farm: str, work: Path) -> list[str]:
    schemas: list[str] = []
    lines: list[str] = []
    try:
        url = fresh_url(backend, work, "web", schemas)
        started = time.perf_counter()
        seed(url, args.articles, args.matches)
        lines.append(f"{backend}: seeded {args.articles:,} articles and {args.matches:,} matches "
                     f"in {time.perf_counter() - started:.0f} s")
        alone = ingest_child(farm, fresh_url(backend, work, "alone", schemas), args.feeds)
        beside = fresh_url(backend, work, "beside", schemas)
        proc, base = start_server(url, work)
        try:
            asyncio.run(load(base, args.clients, 3))  # warm-up, not counted
            box: dict[str, Any] = {}

            async def both() -> None:
                task = asyncio.create_task(load(base, args.clients, args.seconds))
                await asyncio.sleep(1)
                box["ingest"] = await asyncio.to_thread(ingest_child, farm, beside, args.feeds)
                box["times"] = await task

            asyncio.run(both())
            times = box["times"]
        finally:
            proc.terminate()
            proc.wait(30)
        lines.append(f"| {backend} endpoint | requests | req/s | p50 ms | p95 ms | p99 ms |")
        lines.append("|---|---|---|---|---|---|")
        for name, values in times.items():
            lines.append(f"| {name} | {len(values):,} | {len(values) / args.seconds:.0f} | "
                         f"{pct(values, 50):.0f} | {pct(values, 95):.0f} | {pct(values, 99):.0f} |")
        every = [v for values in times.values() for v in values]
        lines.append(f"| all | {len(every):,} | {len(every) / args.seconds:.0f} | "
                     f"{pct(every, 50):.0f} | {pct(every, 95):.0f} | {pct(every, 99):.0f} |")
        loaded = box["ingest"]
        rate_alone = alone["articles"] / alone["first_s"]
        rate_loaded = loaded["articles"] / loaded["first_s"]
        lines.append(f"{backend} ingest (first ingest of {args.feeds} feeds x 50 items, "
                     f"100 rules): alone {rate_alone:,.0f} articles/s "
                     f"({alone['first_s']:.1f} s); beside the web load "
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
               f"--clients {args.clients} --feeds {args.feeds}")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
