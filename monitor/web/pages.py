"""The dashboard pages: thin handlers over the same store methods as the API.

Every page works without JavaScript (plain links and forms); htmx, when loaded,
swaps only the results while typing, and the overview follows new matches live
over server-sent events (``/events``).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

from aiohttp import web

from monitor.errors import QueryError
from monitor.feeds.health import feed_state, health, next_poll
from monitor.redact import redact
from monitor.store.tables import ALERT_STATUSES
from monitor.store.views import MatchFilter
from monitor.web import params
from monitor.web.api import (
    feed_action,
    feed_url,
    match_json,
    rule_items,
    run_apply,
    story_page,
)
from monitor.web.auth import LOGIN_CSRF_COOKIE, SESSION_COOKIE, SESSION_S, new_login_csrf
from monitor.web.render import TEMPLATES, render
from monitor.web.state import STATE, WebState
from monitor.web.trial import try_query

STATIC = Path(__file__).parent / "static"
#: Rows one export may hold.
MAX_EXPORT = 10_000
#: How often the live stream looks for new matches.
EVENTS_EVERY_S = 1.0
#: At most this many matches in one update of the live list (a larger burst shows its
#: newest; the matches page has every one).
EVENTS_BURST = 2000


def _state(request: web.Request) -> WebState:
    return request.app[STATE]


def _cookie_options(request: web.Request) -> dict[str, object]:
    return {"httponly": True, "samesite": "Strict", "secure": request.secure, "path": "/"}


async def login_page(request: web.Request, error: str | None = None) -> web.Response:
    # Keep the browser's token: a second tab (or a favicon fetch) must not void the first form.
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or new_login_csrf()
    response = render(request, "login.html", status=401 if error else 200, error=error,
                      login_csrf=token, configured=bool(_state(request).tokens()))
    response.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=3600, **_cookie_options(request))
    return response


async def login(request: web.Request) -> web.StreamResponse:
    import hmac

    form = await request.post()
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    presented = str(form.get("csrf", ""))
    if not expected or not hmac.compare_digest(expected.encode(), presented.encode()):
        return await login_page(request, "The form expired: please try again.")
    book = _state(request).tokens()
    principal = book.check(str(form.get("token", "")).strip())
    if principal is None:
        return await login_page(request, "Unknown token.")
    response = web.Response(status=303, headers={"Location": "/"})
    response.set_cookie(SESSION_COOKIE, book.session_for(principal), max_age=SESSION_S,
                        **_cookie_options(request))
    response.del_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    response = web.Response(status=303, headers={"Location": "/login"})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


async def overview(request: web.Request) -> web.Response:
    state = _state(request)
    now = state.clock()
    recent = MatchFilter(since=now - timedelta(hours=24))
    page, stats, statuses, outbox = await asyncio.gather(
        state.run(state.store.match_page, recent, None, 30),
        state.run(state.store.rule_stats, now),
        state.run(state.store.feed_statuses),
        state.run(state.store.outbox_summary))
    broken = [(s, redact(health(s))) for s in statuses if feed_state(s) in ("failing", "disabled")]
    last_id = max((m.id for m in page.items), default=0)
    return render(request, "overview.html", matches=page.items, last_id=last_id,
                  rules=rule_items(state, stats), broken=broken, outbox=outbox,
                  statuses=ALERT_STATUSES)


async def events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: each new match as an HTML fragment (event ``match``)."""
    state = _state(request)
    # A reconnecting EventSource says where it was (Last-Event-ID).
    raw = request.headers.get("Last-Event-ID") or request.query.get("after", "0")
    after = int(raw) if raw.isdigit() else 0
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                           "Cache-Control": "no-store"})
    await response.prepare(request)
    item = request.app[TEMPLATES].filters["match_item"]
    while not state.closing.is_set():
        # Every match since the last update, a page at a time (newest first): a burst
        # (a first poll, `rules apply`) is more than one page.
        found, cursor = [], None
        while len(found) < EVENTS_BURST:
            page = await state.run(state.store.match_page, MatchFilter(after_id=after),
                                   cursor, 100)
            found += page.items
            if not page.next_cursor:
                break
            cursor = page.next_cursor
        for m in reversed(found):  # oldest first, so the newest ends on top
            html = str(item(m)).replace("\n", " ")
            await response.write(f"id: {m.id}\nevent: match\ndata: {html}\n\n".encode())
            after = max(after, m.id)
        if not found:
            await response.write(b": keep-alive\n\n")
        try:
            await asyncio.wait_for(state.closing.wait(), EVENTS_EVERY_S)
        except TimeoutError:
            pass
    return response


async def _options(state: WebState) -> dict[str, list[str]]:
    settings = state.settings
    return {"rules": [r.name for r in settings.rules],
            "feeds": sorted({f.name or f.url for f in settings.feeds}),
            "tags": sorted({t for f in settings.feeds for t in f.tags})}


async def matches(request: web.Request) -> web.Response:
    state = _state(request)
    where = params.match_filter(request.query, state.clock())
    cursor, limit = params.paging(request.query)
    page = await state.run(state.store.match_page, where, cursor, limit)
    query = {k: v for k, v in request.query.items() if k not in ("cursor",) and v}
    older = (f"?{urlencode({**query, 'cursor': page.next_cursor})}"
             if page.next_cursor else None)
    export = urlencode({k: v for k, v in query.items() if k != "limit"})
    return render(request, "matches.html", page=page, q=request.query, older=older,
                  export=export, story=where.story, **await _options(state))


async def export_matches(request: web.Request) -> web.Response:
    """The matches of the current filter as CSV or JSONL (at most MAX_EXPORT rows)."""
    state = _state(request)
    fmt = request.query.get("format", "csv")
    if fmt not in ("csv", "jsonl"):
        raise params.bad_request("format: csv or jsonl", parameter="format")
    where = params.match_filter(request.query, state.clock())
    rows, cursor = [], None
    while len(rows) < MAX_EXPORT:
        page = await state.run(state.store.match_page, where, cursor, 200)
        rows.extend(match_json(m) for m in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    if fmt == "jsonl":
        body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        return web.Response(text=body, content_type="application/x-ndjson",
                            headers={"Content-Disposition": "attachment; filename=matches.jsonl"})
    out = io.StringIO()
    columns = ["id", "rule", "title", "url", "feed", "published", "matched_at", "story",
               "language", "terms", "snippet"]
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({**r, "terms": "; ".join(r["terms"])})
    return web.Response(text=out.getvalue(), content_type="text/csv",
                        headers={"Content-Disposition": "attachment; filename=matches.csv"})


async def match_detail(request: web.Request) -> web.Response:
    match_id = params.path_id(request)
    found = await _state(request).run(_state(request).store.match_view, match_id)
    if found is None:
        return render(request, "error.html", status=404, message=f"No match {match_id}.")
    return render(request, "match.html", m=found)


async def rules(request: web.Request) -> web.Response:
    state = _state(request)
    stats = await state.run(state.store.rule_stats, state.clock())
    return render(request, "rules.html", rules=rule_items(state, stats), trial=None,
                  error=None, query="", since="30d", applied=None)


async def try_rule(request: web.Request) -> web.Response:
    """"Try a query": which stored articles it would match, or where it is wrong."""
    state = _state(request)
    query = request.query.get("query", "")
    since_text = request.query.get("since", "30d") or "30d"
    trial = error = None
    if query.strip():
        since = params.since(since_text, state.clock(), "since")
        try:
            trial = await state.run(try_query, state.store, query,
                                            state.settings.entity_aliases(), since)
        except QueryError as e:
            error = e
    context = {"trial": trial, "error": error, "query": query, "since": since_text}
    if request.headers.get("HX-Request") == "true":
        return render(request, "_trial.html", **context)
    stats = await state.run(state.store.rule_stats, state.clock())
    return render(request, "rules.html", rules=rule_items(state, stats), applied=None,
                  **context)


async def apply_rules(request: web.Request) -> web.Response:
    """"Apply rules": record what the rules match among stored articles (after adding
    or changing one), optionally queuing alerts; the rules page shows the outcome."""
    state = _state(request)
    form = await request.post()
    rules = [str(r) for r in form.getall("rule", []) if r]
    result = await run_apply(state, rules, str(form.get("since", "7d")),
                             form.get("alert") == "1")
    stats = await state.run(state.store.rule_stats, state.clock())
    return render(request, "rules.html", rules=rule_items(state, stats), trial=None, error=None,
                  query="", since="30d", applied=result,
                  applied_to=", ".join(rules) or "every rule")


async def stories(request: web.Request) -> web.Response:
    state = _state(request)
    page = await story_page(request)
    query = {k: v for k, v in request.query.items() if k != "cursor" and v}
    older = (f"?{urlencode({**query, 'cursor': page.next_cursor})}"
             if page.next_cursor else None)
    return render(request, "stories.html", page=page, q=request.query, older=older,
                  rules=[r.name for r in state.settings.rules],
                  enabled=state.settings.stories.enabled)


async def story_detail(request: web.Request) -> web.Response:
    story_id = params.path_id(request)
    found = await _state(request).run(_state(request).store.story_view, story_id)
    if found is None:
        return render(request, "error.html", status=404, message=f"No story {story_id}.")
    return render(request, "story.html", s=found)


async def feeds(request: web.Request) -> web.Response:
    state = _state(request)
    statuses = await state.run(state.store.feed_statuses)
    now = state.clock()
    errors_only = request.query.get("errors") in ("1", "true", "yes")
    rows = [(s, feed_state(s), redact(health(s)), next_poll(s, now)) for s in statuses]
    # Errors first: a broken feed is what someone opening this page looks for.
    rows.sort(key=lambda r: (r[1] not in ("failing", "disabled"), r[0].name))
    if errors_only:
        rows = [r for r in rows if r[1] in ("failing", "disabled")]
    return render(request, "feeds.html", rows=rows, errors_only=errors_only)


async def _feed_form(request: web.Request, action: str) -> web.StreamResponse:
    form = await request.post()
    state = _state(request)
    await feed_action(state, feed_url(state, form.get("url"), form.get("name")), action)
    raise web.HTTPSeeOther("/feeds")


async def enable_feed(request: web.Request) -> web.StreamResponse:
    return await _feed_form(request, "enable")


async def poll_feed(request: web.Request) -> web.StreamResponse:
    return await _feed_form(request, "poll")


async def poll_failing(request: web.Request) -> web.StreamResponse:
    state = _state(request)
    await state.run(state.store.poll_failing_soon, state.clock())
    raise web.HTTPSeeOther("/feeds?errors=1")


async def alerts(request: web.Request) -> web.Response:
    state = _state(request)
    status = params.alert_status(request.query.get("status"))
    cursor, limit = params.paging(request.query)
    page, outbox = await asyncio.gather(
        state.run(state.store.alert_page, status, cursor, limit),
        state.run(state.store.outbox_summary))
    older = (f"?{urlencode({'status': status or '', 'cursor': page.next_cursor})}"
             if page.next_cursor else None)
    return render(request, "alerts.html", page=page, current=status, outbox=outbox,
                  statuses=ALERT_STATUSES, older=older)


async def retry_alert(request: web.Request) -> web.StreamResponse:
    state = _state(request)
    alert_id = params.path_id(request)
    await state.run(state.store.revive_alerts, state.clock(), alert_ids=[alert_id])
    raise web.HTTPSeeOther("/alerts")


async def retry_selected(request: web.Request) -> web.StreamResponse:
    """Bulk action: retry the failed or dead alerts ticked on the alerts page."""
    state = _state(request)
    form = await request.post()
    ids = [int(v) for v in form.getall("id", []) if str(v).isdigit() and len(str(v)) <= 18]
    if ids:
        await state.run(state.store.revive_alerts, state.clock(), alert_ids=ids)
    raise web.HTTPSeeOther("/alerts")


async def retry_dead(request: web.Request) -> web.StreamResponse:
    state = _state(request)
    await state.run(state.store.revive_alerts, state.clock())
    raise web.HTTPSeeOther("/alerts")


async def static(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    files = {p.name: p for p in STATIC.iterdir()}
    if name not in files:  # only the files shipped: no path ever built from the request
        raise web.HTTPNotFound()
    return web.FileResponse(files[name], headers={"Cache-Control": "public, max-age=86400"})
