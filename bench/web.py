"""Web benchmark: latency and server CPU of the dashboard and API under load, before
and after a change on the same data, and what the load costs the daemon's poll cycle.

Per backend (SQLite file, PostgreSQL database):
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
     nginx, first ingest, 100 rules, one parse process) alone, and beside the clients
     against this checkout's server (at serve's default ``--nice``), with the pacer off
     and with ``http.cpu_while_polling: PACE``; ``--repeats`` times, alternated, medians
     reported. Each ingest goes into its own copy of the seeded database (a file copy on
     SQLite, ``CREATE DATABASE ... TEMPLATE`` on PostgreSQL); beside the load, into the
     very database the server reads, as a replica shares the daemon's (so a pacing server
     sees the poll's leases; on SQLite, WAL: a reader must not hold up the writer). On 2
     CPUs the cost is mostly CPU shared with the web server and the clients (the load
     generator runs on the same machine).

Where the CPU goes, per load run: cores used by ``serve`` (its process tree, under its
``--nice``), by the load generator (this process's event loop), by the PostgreSQL
backends of the web's sessions and of the ingest's (found by ``application_name`` in
``pg_stat_activity``, their CPU read from /proc: they run at the database server's
priority, not serve's), and by the whole machine (other work included); and the CPU
per request of serve and of its backends, which the machine's load hardly changes.

Run:  python bench/web.py [--articles 100000] [--matches 50000] [--seconds 30]
      [--clients 20] [--workers 1] [--baseline fc4048f] [--backend sqlite ...]
      [--pace 0.25] [--repeats 3]
Results are printed; record them by hand in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Self

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import ingest  # the farm, nginx and the in-process ingest child

TOKEN = "bench-token-0123456789abcdef"
PG_ADMIN = os.environ.get("MONITOR_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
SEARCH_WORDS = ["oil", "election", "market", "court", "space", "china", "game", "bank"]
FEEDS = 50
NICE = 10  # serve's default --nice
#: application_name of the served web's and of the ingest's PostgreSQL sessions, by
#: which their backends are found in pg_stat_activity (and their CPU in /proc).
WEB_APP, INGEST_APP = "nm-bench-web", "nm-bench-ingest"
CLK_TCK = os.sysconf("SC_CLK_TCK")


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
        # The claim above leased the feeds: a serve that paces itself while a poll
        # holds a lease would otherwise take the seeding for a poll for 5 minutes.
        store.release_leases("seed")


def start_server(url: str, workdir: Path, code: Path, workers: int = 1, nice: int = 0,
                 pace: float | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """``news-monitor serve`` of the checkout at ``code`` over ``url`` (with ``pace``:
    ``http.cpu_while_polling``)."""
    port = ingest.free_port()
    config = workdir / "web.yaml"
    rules = "".join(f'  - {{name: rule-{i}, query: "x{i}", notify: []}}\n' for i in range(10))
    paced = f"  cpu_while_polling: {pace}\n" if pace else ""
    config.write_text(f'http:\n  listen: 127.0.0.1:{port}\n{paced}  tokens:\n'
                      f'    bench: {{token: "{TOKEN}", role: read}}\nrules:\n{rules}',
                      encoding="utf-8")
    env = {**os.environ, "MONITOR_DATABASE_URL": named(url, WEB_APP), "PYTHONPATH": str(code)}
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


def named(url: str, app: str) -> str:
    """A PostgreSQL URL whose sessions carry ``application_name`` ``app``."""
    if not url.startswith("postgresql"):
        return url
    return f"{url}{'&' if '?' in url else '?'}application_name={app}"


def own_cpu(pid: int) -> float:
    """User + system CPU seconds of one process (all its threads), 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return 0.0


def machine_cpu() -> float:
    """CPU seconds all cores spent busy since boot (/proc/stat: not idle, not iowait)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / CLK_TCK


class BackendCpu:
    """CPU of the PostgreSQL backends per application_name, sampled in a thread (a
    backend's time is read while it lives: sessions of a finished process are gone)."""

    def __init__(self, apps: tuple[str, ...], every_s: float = 0.25) -> None:
        self.apps, self.every_s = apps, every_s
        self.last: dict[int, tuple[str, float]] = {}  # pid -> (app, CPU seconds so far)
        self.start: dict[int, float] = {}
        #: Per sample, how many backends of each app were running a query.
        self.active: dict[str, list[int]] = {app: [] for app in apps}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._ready = threading.Event()

    def _sample(self, conn: Any) -> None:
        active = dict.fromkeys(self.apps, 0)
        for pid, app, state in conn.execute(
                "SELECT pid, application_name, state FROM pg_stat_activity "
                "WHERE application_name = ANY(%s)", (list(self.apps),)):
            cpu = own_cpu(pid)
            self.last[pid] = (app, max(cpu, self.last.get(pid, (app, 0.0))[1]))
            active[app] += state == "active"
        for app, n in active.items():
            self.active[app].append(n)

    def _run(self) -> None:
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            self._sample(conn)
            self.start = {pid: cpu for pid, (_, cpu) in self.last.items()}
            self._ready.set()
            while not self._stop.wait(self.every_s):
                self._sample(conn)
            self._sample(conn)

    def __enter__(self) -> Self:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def at_once(self, app: str) -> tuple[float, int]:
        """Backends of ``app`` running a query at once: mean and most over the samples."""
        seen = self.active[app] or [0]
        return sum(seen) / len(seen), max(seen)

    def seconds(self, app: str) -> float:
        return sum(cpu - self.start.get(pid, 0.0)
                   for pid, (name, cpu) in self.last.items() if name == app)


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
                         "100", named(url, INGEST_APP), "20", "20", "1", "0"])


def pg_database(template: str | None = None) -> tuple[str, str]:
    """A new PostgreSQL database (a copy of ``template``, if given): its URL and name.
    A template copy is a file copy on the server: seconds, not a re-seed."""
    import psycopg

    name = f"nm_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        for attempt in range(40):  # a server just stopped may still be disconnecting
            try:
                conn.execute(f'CREATE DATABASE "{name}"'
                             + (f' TEMPLATE "{template}"' if template else ""))
                break
            except psycopg.errors.ObjectInUse:
                if attempt == 39:
                    raise
                time.sleep(0.25)
    base = PG_ADMIN.replace("postgresql://", "postgresql+psycopg://", 1).rsplit("/", 1)[0]
    return f"{base}/{name}", name


def drop_pg(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Databases:
    """The seeded database and its copies (files on SQLite, databases on PostgreSQL)."""

    def __init__(self, backend: str, work: Path) -> None:
        self.backend, self.work = backend, work
        self.made: list[str] = []
        if backend == "sqlite":
            self.seeded = f"sqlite:///{work / 'web.db'}"
        else:
            self.seeded, name = pg_database()
            self.made.append(name)

    def copy(self, name: str) -> str:
        """A copy of the seeded database as it is now (call it before anything is
        ingested into the seeded one, and with no server on it)."""
        if self.backend == "sqlite":
            shutil.copy(self.work / "web.db", self.work / f"{name}.db")
            return f"sqlite:///{self.work / name}.db"
        url, made = pg_database(template=self.made[0])
        self.made.append(made)
        return url

    def drop(self) -> None:
        for name in self.made:
            drop_pg(name)


@dataclass
class Loaded:
    """One load run: latencies per endpoint and where the machine's CPU went."""

    times: dict[str, list[float]]
    #: CPU ms per request of the serve process(es), and of the PostgreSQL backends of
    #: its sessions (0 on SQLite: in process).
    server_ms: float
    db_ms: float
    #: Cores used over the load's wall time: serve, load generator (this process's
    #: event loop), web's PostgreSQL backends, ingest's PostgreSQL backends, the whole
    #: machine (other sessions included).
    cores: dict[str, float]
    during: Any = None
    #: The web's backends running a query at once (sampled 4 times a second): mean, most.
    at_once: tuple[float, int] = (0.0, 0)
    #: Requests the pacer held back, and the seconds they waited (from /metrics).
    paced: tuple[float, float] = (0.0, 0.0)

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.times.values())


def measure(url: str, work: Path, code: Path, args: argparse.Namespace, during: Any = None,
            workers: int = 1, nice: int = 0, pace: float | None = None) -> Loaded:
    """Serve ``url`` with the checkout ``code`` and load it, ``during()`` run in a
    thread under the load; per-process CPU measured over the load."""
    proc, base = start_server(url, work, code, workers, nice, pace)
    pg = url.startswith("postgresql")
    try:
        asyncio.run(load(base, args.clients, 3))  # warm-up, not counted
        box: dict[str, Any] = {}

        async def both() -> None:
            task = asyncio.create_task(load(base, args.clients, args.seconds))
            if during is not None:
                await asyncio.sleep(1)
                box["during"] = await asyncio.to_thread(during)
            box["times"] = await task

        with BackendCpu((WEB_APP, INGEST_APP)) if pg else contextlib.nullcontext() as backends:
            cpu_before, machine_before = cpu_seconds(proc.pid), machine_cpu()
            clients_before, wall = time.thread_time(), time.perf_counter()
            asyncio.run(both())
            clients = time.thread_time() - clients_before  # the event loop of the clients
            wall = time.perf_counter() - wall
            cpu = cpu_seconds(proc.pid) - cpu_before
            machine = machine_cpu() - machine_before
        paced = paced_counts(base)
    finally:
        proc.terminate()
        proc.wait(30)
    web_db = backends.seconds(WEB_APP) if backends else 0.0
    ingest_db = backends.seconds(INGEST_APP) if backends else 0.0
    result = Loaded(box["times"], 0.0, 0.0, {
        "serve": cpu / wall, "clients": clients / wall, "web backends": web_db / wall,
        "ingest backends": ingest_db / wall, "machine": machine / wall}, box.get("during"))
    result.server_ms = 1000 * cpu / max(1, result.requests)
    if backends:
        result.at_once = backends.at_once(WEB_APP)
    result.db_ms = 1000 * web_db / max(1, result.requests)
    result.paced = paced
    return result


def paced_counts(base: str) -> tuple[float, float]:
    """The pacer's counters of a running serve (0, 0 for a version without them)."""
    import urllib.request

    request = urllib.request.Request(f"{base}/metrics",
                                     headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        samples = dict(line.rsplit(" ", 1) for line in response.read().decode().splitlines()
                       if line and not line.startswith("#"))
    return (float(samples.get("newsmonitor_web_paced_requests_total", 0)),
            float(samples.get("newsmonitor_web_paced_wait_seconds_total", 0)))


def cores_line(backend: str, label: str, run: Loaded) -> str:
    c = run.cores
    pg = backend == "postgresql"
    return (f"{backend} cores used ({label}): serve {c['serve']:.2f}, clients "
            f"{c['clients']:.2f}, "
            + (f"web's PostgreSQL backends {c['web backends']:.2f}, ingest's PostgreSQL "
               f"backends {c['ingest backends']:.2f}, " if pg else "")
            + f"whole machine {c['machine']:.2f} of {os.cpu_count()}"
            + (f"; web's backends running a query at once: mean {run.at_once[0]:.1f}, "
               f"most {run.at_once[1]}" if pg else ""))


def latency_table(backend: str, runs: list[tuple[str, Loaded]], seconds: float) -> list[str]:
    lines = [f"| {backend} endpoint | code | requests | req/s | p50 ms | p95 ms | p99 ms |",
             "|---|---|---|---|---|---|---|"]
    for name in ENDPOINTS:
        for label, run in runs:
            v = run.times[name]
            lines.append(f"| {name} | {label} | {len(v):,} | {len(v) / seconds:.0f} | "
                         f"{pct(v, 50):.0f} | {pct(v, 95):.0f} | {pct(v, 99):.0f} |")
    for label, run in runs:
        every = [v for values in run.times.values() for v in values]
        lines.append(f"| all | {label} | {len(every):,} | {len(every) / seconds:.0f} | "
                     f"{pct(every, 50):.0f} | {pct(every, 95):.0f} | {pct(every, 99):.0f} |")
    lines.append("")
    for label, run in runs:
        db = (f", its PostgreSQL backends {run.db_ms:.1f} ms"
              if backend == "postgresql" else "")
        lines.append(f"{backend} CPU per request ({label}): server {run.server_ms:.1f} ms{db}")
        lines.append(cores_line(backend, label, run))
    return lines


def run_backend(backend: str, args: argparse.Namespace, farm: str, work: Path) -> list[str]:
    dbs = Databases(backend, work)
    lines: list[str] = []
    try:
        url = dbs.seeded
        started = time.perf_counter()
        seed(url, args.articles, args.matches)
        lines.append(f"{backend}: seeded {args.articles:,} articles and {args.matches:,} matches "
                     f"in {time.perf_counter() - started:.0f} s")
        # Latency at normal priority (--nice 0): the machine may run other work.
        runs = []
        codes = [("after", HERE.parent, 1, 0)]
        if args.baseline:  # it predates serve --workers and --nice
            codes.insert(0, (f"before ({args.baseline})",
                             checkout(args.baseline, work / "baseline"), 1, -1))
        if args.workers > 1:
            codes.append((f"after, --workers {args.workers}", HERE.parent, args.workers, 0))
        for label, code, workers, nice in codes:
            runs.append((label, measure(url, work, code, args, workers=workers, nice=nice,
                                        pace=None if nice < 0 else args.pace)))
        lines += latency_table(backend, runs, args.seconds)
        lines += ingest_beside(backend, args, farm, work, dbs)
    finally:
        dbs.drop()
    return lines


def ingest_beside(backend: str, args: argparse.Namespace, farm: str, work: Path,
                  dbs: Databases) -> list[str]:
    """The ingest alone and beside the web load, alternated ``--repeats`` times, each
    into its own copy of the seeded database; beside the load, into the very database
    the server reads (so a pacing server sees the poll's leases), served at serve's
    default priority, without and with ``--pace``. Medians, since one ingest of a few
    seconds on a shared machine varies by tens of percent."""
    paces = [None] + ([args.pace] if args.pace else [])
    rates: dict[str, list[float]] = {"alone": []}
    web: dict[str, list[tuple[float, float]]] = {}
    held: dict[str, list[tuple[float, float]]] = {}
    last: dict[str, Loaded] = {}
    for i in range(args.repeats):
        alone = ingest_child(farm, dbs.copy(f"alone{i}"), args.feeds)
        rates["alone"].append(alone["articles"] / alone["first_s"])
        for pace in paces:
            label = "beside, pacer off" if pace is None else f"beside, pacer {pace:g} cores"
            target = dbs.copy(f"beside{i}{pace}")
            run = measure(target, work, HERE.parent, args,
                          lambda t=target: ingest_child(farm, t, args.feeds), nice=NICE,
                          pace=pace)
            rates.setdefault(label, []).append(run.during["articles"] / run.during["first_s"])
            every = [v for values in run.times.values() for v in values]
            web.setdefault(label, []).append((run.requests / args.seconds, pct(every, 95)))
            held.setdefault(label, []).append(run.paced)
            last[label] = run
    alone_median = statistics.median(rates["alone"])
    lines = [f"{backend} ingest (first ingest of {args.feeds} feeds x 50 items, 100 rules), "
             f"{args.repeats} runs each, alternated; serve --nice {NICE}:",
             "| ingest | articles/s (each run) | median | slowdown | web req/s | web p95 ms "
             "| requests held back (s waited), each run |",
             "|---|---|---|---|---|---|---|"]
    for label, values in rates.items():
        median = statistics.median(values)
        each = ", ".join(f"{v:,.0f}" for v in values)
        slow = "" if label == "alone" else f"{100 * (1 - median / alone_median):.0f}%"
        load = web.get(label)
        req = f"{statistics.median(r for r, _ in load):.0f}" if load else ""
        p95 = f"{statistics.median(p for _, p in load):.0f}" if load else ""
        waits = ", ".join(f"{n:,.0f} ({w:.1f})" for n, w in held.get(label, []))
        lines.append(f"| {label} | {each} | {median:,.0f} | {slow} | {req} | {p95} | {waits} |")
    lines.append("")
    lines += [cores_line(backend, f"{label}, last run", run) for label, run in last.items()]
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
    parser.add_argument("--pace", type=float, default=0.25,
                        help="http.cpu_while_polling of the served config (0: pacer off); "
                             "the ingest beside the load is measured without and with it")
    parser.add_argument("--repeats", type=int, default=3,
                        help="ingest runs alone and beside the load, alternated")
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
               f"--pace {args.pace:g} --repeats {args.repeats} "
               f"--baseline '{args.baseline}'")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
