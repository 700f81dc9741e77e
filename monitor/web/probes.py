"""Liveness and readiness probes (Kubernetes style: 200 or 503, ``?verbose`` explains).

``/livez`` answers from the event loop itself and checks nothing external: if it
answers, the process and its loop are alive. ``/readyz`` checks that the database
answers and is at the newest migration, and, in a daemon that polls, that the poll
tick ran within the last three ticks (a wedged scheduler makes it not ready).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web

from monitor.errors import MonitorError, StoreUnavailable
from monitor.store import db
from monitor.web.state import STATE, WebState

log = logging.getLogger(__name__)
#: A database that takes longer than this to answer is not ready.
DB_TIMEOUT_S = 5.0
#: The poll tick must have run within this many ticks.
TICKS = 3


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


async def livez(request: web.Request) -> web.Response:
    return _answer(request, [Check("loop", True, "event loop answering")])


async def readyz(request: web.Request) -> web.Response:
    state = request.app[STATE]
    checks = await _database_checks(state)
    checks.append(poll_check(state, state.clock()))
    return _answer(request, checks)


async def _database_checks(state: WebState) -> list[Check]:
    try:
        current = await asyncio.wait_for(state.run(state.store.schema_revision),
                                         DB_TIMEOUT_S)
    except (MonitorError, TimeoutError) as e:
        # The probe is public: the reason (host, database name) goes to the log only,
        # once per outage for an unavailable database (the store's store.unavailable).
        level = logging.DEBUG if isinstance(e, StoreUnavailable) else logging.WARNING
        log.log(level, "web.readyz_database_failed error=%s", e)
        reason = "no answer within 5 s" if isinstance(e, TimeoutError) else "unreachable"
        return [Check("database", False, reason), Check("schema", False, "unknown")]
    heads = db.script_heads()
    newest = ", ".join(sorted(heads)) or "unknown"
    return [Check("database", True, "reachable"),
            Check("schema", current in heads, f"at {current}, newest is {newest}")]


def poll_check(state: WebState, now: datetime) -> Check:
    """Is the poll loop alive? Its passes start and end within three ticks, or one is
    under way for less than the feed lease (a pass over many feeds may take a while;
    one older than the lease has lost its feeds to other replicas: not ready)."""
    monitor = state.monitor
    if monitor is None:
        return Check("poll", True, "not polling in this process (serve)")
    tick_s = monitor.settings.poll.tick_s
    limit = TICKS * tick_s
    running = monitor.polling_since
    if running is not None:
        age = (now - running).total_seconds()
        return Check("poll", age <= max(limit, monitor.lease_s),
                     f"a pass running for {age:.0f} s (lease {monitor.lease_s} s)")
    last = monitor.last_tick_at
    if last is None:
        age = (now - state.started_at).total_seconds()
        return Check("poll", age <= limit, f"no poll tick yet ({age:.0f} s after start)")
    age = (now - last).total_seconds()
    return Check("poll", age <= limit,
                 f"last tick {age:.0f} s ago (tick {tick_s} s, limit {limit} s)")


def _answer(request: web.Request, checks: list[Check]) -> web.Response:
    ready = all(c.ok for c in checks)
    status = 200 if ready else 503
    if "verbose" not in request.query:
        return web.Response(status=status, text="ok\n" if ready else "not ready\n")
    lines = [f"[{'+' if c.ok else '-'}]{c.name} {'ok' if c.ok else 'failed'}: {c.detail}"
             for c in checks]
    lines.append(f"{request.path[1:]} {'check passed' if ready else 'check failed'}")
    return web.Response(status=status, text="\n".join(lines) + "\n")
