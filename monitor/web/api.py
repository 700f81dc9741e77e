"""The JSON API (``/api/v1``): thin handlers over the store's view queries.

Each handler parses its request (``params``), calls one store or trial method in a
worker thread (the store is synchronous) and returns JSON. Errors are problem
documents; a bad query answers 400 with the column of the mistake.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from datetime import datetime
from typing import Any

from aiohttp import web

from monitor.apply import ApplyResult, apply_rules
from monitor.errors import ConfigError, QueryError
from monitor.feeds.health import feed_state, health, next_poll
from monitor.feeds.identify import FeedRef, ambiguity, choose_feed
from monitor.redact import mask_url, redact
from monitor.store.stories import StoryRecord
from monitor.store.views import MatchView, Page
from monitor.web import params
from monitor.web.problems import ProblemError, bad_request
from monitor.web.state import STATE, WebState
from monitor.web.trial import try_query


def _state(request: web.Request) -> WebState:
    return request.app[STATE]


def jsonable(value: Any) -> Any:
    """Dataclasses, tuples and datetimes as JSON values (UTC ISO 8601 times)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, datetime):
        return _iso(value)
    return value


def _page_json(page: Any) -> web.Response:
    return web.json_response({"items": jsonable(page.items), "next_cursor": page.next_cursor})


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def match_json(m: MatchView) -> dict[str, Any]:
    """A match as the API shows it (written out, not via ``jsonable``: the hottest
    path of the API and the exports)."""
    return {"id": m.id, "rule": m.rule, "article_id": m.article_id, "title": m.title,
            "url": m.url, "feed": m.feed, "published": _iso(m.published),
            "matched_at": _iso(m.matched_at), "story": m.story, "language": m.language,
            "terms": list(m.terms), "snippet": m.snippet,
            "evidence": [{"term": h.term, "field": h.field, "start": h.start, "end": h.end,
                          "text": h.text} for h in m.hits]}


@functools.lru_cache(maxsize=4096)
def match_json_text(m: MatchView) -> str:
    """``match_json`` serialised, remembered by value: the newest matches are listed
    by every request, and serialising them was a third of an API request's time."""
    return json.dumps(match_json(m), ensure_ascii=False)


def match_list_response(page: Page[MatchView]) -> web.Response:
    items = ",".join(match_json_text(m) for m in page.items)
    body = f'{{"items":[{items}],"next_cursor":{json.dumps(page.next_cursor)}}}'
    return web.Response(text=body, content_type="application/json")


async def matches(request: web.Request) -> web.Response:
    state = _state(request)
    where = params.match_filter(request.query, state.clock())
    cursor, limit = params.paging(request.query)
    page = await state.run(state.store.match_page, where, cursor, limit)
    return match_list_response(page)


async def match(request: web.Request) -> web.Response:
    match_id = params.path_id(request)
    found = await _state(request).run(_state(request).store.match_view, match_id)
    if found is None:
        raise ProblemError(404, "Not Found", f"no match with id {match_id}")
    return web.json_response(match_json(found))


def story_json(s: StoryRecord) -> dict[str, Any]:
    """A story with its articles (each with the rules that matched it)."""
    return {"id": s.id, "title": s.title, "first_seen": _iso(s.first_seen),
            "last_seen": _iso(s.last_seen), "feeds": s.feeds, "rules": s.rules,
            "articles": [{"id": a.id, "title": a.title, "url": a.url, "feed": a.feed,
                          "published": _iso(a.published),
                          "fetched_at": _iso(a.fetched_at), "language": a.language,
                          "rules": list(a.rules)} for a in s.articles]}


async def story_page(request: web.Request) -> Page[StoryRecord]:
    """The page of stories a request's query asks for (page and API alike)."""
    state = _state(request)
    since, rule = params.story_filter(request.query, state.clock())
    cursor, limit = params.paging(request.query)
    return await state.run(state.store.story_page, since=since, rule=rule,
                                   cursor=cursor, limit=limit)


async def stories(request: web.Request) -> web.Response:
    page = await story_page(request)
    return web.json_response({"items": [story_json(s) for s in page.items],
                              "next_cursor": page.next_cursor})


async def story(request: web.Request) -> web.Response:
    story_id = params.path_id(request)
    found = await _state(request).run(_state(request).store.story_view, story_id)
    if found is None:
        raise ProblemError(404, "Not Found", f"no story with id {story_id}")
    return web.json_response(story_json(found))


async def articles(request: web.Request) -> web.Response:
    q = request.query
    cursor, limit = params.paging(q)
    page = await _state(request).run(_state(request).store.article_page, q.get("q") or None,
                                   q.get("feed") or None, cursor, limit)
    return _page_json(page)


async def feeds(request: web.Request) -> web.Response:
    state = _state(request)
    statuses = await state.run(state.store.feed_statuses)
    now = state.clock()
    errors_only = request.query.get("errors") in ("1", "true", "yes")
    # A feed URL may hold a ${VAR} secret (an API key in the query): shown masked, as
    # the config wrote it (shown_url is that form, not a field of its own).
    items = [{**_without_shown(jsonable(s)), "url": s.display_url, "state": feed_state(s),
              "health": redact(health(s)), "next_poll": next_poll(s, now)}
             for s in statuses if not errors_only or feed_state(s) in ("failing", "disabled")]
    return web.json_response({"items": items, "next_cursor": None})


def _without_shown(row: dict[str, Any]) -> dict[str, Any]:
    row.pop("shown_url", None)
    return row


def rule_items(state: WebState, stats: dict[str, Any]) -> list[dict[str, Any]]:
    """Every configured rule with its delivery policy and recent match counts."""
    settings = state.settings
    items = []
    for r in settings.rules:
        s = stats.get(r.name)
        items.append({
            "name": r.name, "query": r.query, "notify": settings.rule_notify(r),
            "feeds": list(r.feeds), "tags": list(r.tags), "mode": r.mode,
            "max_per_hour": r.max_per_hour,
            "matches_24h": s.last_24h if s else 0, "matches_7d": s.last_7d if s else 0,
            "matches_per_day": list(s.per_day) if s else [0] * 14,
        })
    return items


async def rules(request: web.Request) -> web.Response:
    state = _state(request)
    stats = await state.run(state.store.rule_stats, state.clock())
    return web.json_response({"items": rule_items(state, stats), "next_cursor": None})


async def run_apply(state: WebState, rules: list[str], since_text: str,
                    alert: bool) -> ApplyResult:
    """Apply rules to stored articles (400 for an unknown rule or a bad ``since``)."""
    since = params.since(since_text or "7d", state.clock(), "since")
    try:
        return await state.run(apply_rules, state.store, state.settings, since=since,
                                       clock=state.clock, rules=rules, alert=alert)
    except ConfigError as e:
        raise bad_request(str(e), parameter="rules") from None


async def apply(request: web.Request) -> web.Response:
    body = await params.json_body(request)
    rules = body.get("rules", [])
    if not isinstance(rules, list) or not all(isinstance(r, str) for r in rules):
        raise bad_request("rules: a list of rule names", parameter="rules")
    alert = body.get("alert", False)
    if not isinstance(alert, bool):
        raise bad_request("alert: true or false", parameter="alert")
    result = await run_apply(_state(request), rules, str(body.get("since", "7d")), alert)
    return web.json_response(jsonable(result))


async def alerts(request: web.Request) -> web.Response:
    q = request.query
    cursor, limit = params.paging(q)
    status = params.alert_status(q.get("status"))
    page = await _state(request).run(_state(request).store.alert_page, status, cursor, limit)
    items = jsonable(page.items)
    for item in items:  # an error from a target may quote its URL: mask its secrets
        item["last_error"] = redact(item["last_error"]) if item["last_error"] else None
    return web.json_response({"items": items, "next_cursor": page.next_cursor})


async def retry_alert(request: web.Request) -> web.Response:
    state = _state(request)
    alert_id = params.path_id(request)
    revived = await state.run(state.store.revive_alerts, state.clock(),
                                      alert_ids=[alert_id])
    if not revived:
        raise ProblemError(409, "Conflict", f"alert {alert_id} does not exist or is not "
                           "failed or dead")
    return web.json_response({"retried": revived})


async def retry_alerts(request: web.Request) -> web.Response:
    """Bulk action: retry these failed or dead alerts (``{"ids": [...]}``)."""
    state = _state(request)
    ids = (await params.json_body(request)).get("ids")
    if not isinstance(ids, list) or not ids or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise bad_request("ids: a list of alert ids", parameter="ids")
    revived = await state.run(state.store.revive_alerts, state.clock(), alert_ids=ids)
    return web.json_response({"retried": revived})


async def retry_dead(request: web.Request) -> web.Response:
    state = _state(request)
    revived = await state.run(state.store.revive_alerts, state.clock())
    return web.json_response({"retried": revived})


def feed_url(state: WebState, url: object, name: object) -> str:
    """The configured URL of a feed given by URL or by name (a URL with a secret in it
    is shown redacted, so pages and scripts may name the feed instead). A name or a URL
    as shown (``***``) that fits two feeds is refused (409) with the candidates."""
    given = name if isinstance(name, str) and name else url
    if not isinstance(given, str) or not given:
        raise bad_request("name the feed: {\"url\": ...} or {\"name\": ...}")
    refs = [FeedRef(f.url, f.name or mask_url(f.shown_url), mask_url(f.shown_url), True,
                    also=(f.shown_url,)) for f in state.settings.feeds]
    choice = choose_feed(given, given, refs)
    if choice.ambiguous:
        raise ProblemError(409, "Conflict", ambiguity(given, choice.candidates))
    if choice.url is not None:
        return choice.url
    if given is name:
        raise ProblemError(404, "Not Found", f"no configured feed named {name!r}")
    return given


async def feed_action(state: WebState, url: str, action: str) -> None:
    """Re-enable a feed (``enable``) or make it due now (``poll``); 404 if unknown."""
    method = state.store.enable_feed if action == "enable" else state.store.poll_feed_soon
    if not await state.run(method, url, state.clock()):
        raise ProblemError(404, "Not Found", f"no configured feed with URL {redact(url)}")


async def _feed_action(request: web.Request, action: str) -> web.Response:
    body = await params.json_body(request)
    state = _state(request)
    url = feed_url(state, body.get("url"), body.get("name"))
    await feed_action(state, url, action)
    return web.json_response({"url": redact(url), "done": action})


async def enable_feed(request: web.Request) -> web.Response:
    return await _feed_action(request, "enable")


async def poll_feed(request: web.Request) -> web.Response:
    return await _feed_action(request, "poll")


async def poll_failing(request: web.Request) -> web.Response:
    state = _state(request)
    count = await state.run(state.store.poll_failing_soon, state.clock())
    return web.json_response({"scheduled": count})


async def test_rule(request: web.Request) -> web.Response:
    state = _state(request)
    body = await params.json_body(request)
    query = body.get("query")
    if not isinstance(query, str) or not query.strip():
        raise bad_request("give the query as {\"query\": \"...\"}")
    since = params.since(str(body.get("since", "30d")), state.clock(), "since")
    try:
        result = await state.run(try_query, state.store, query,
                                         state.settings.entity_aliases(), since)
    except QueryError as e:
        raise bad_request(f"the query is invalid: {e.reason}", column=e.column,
                          query=query) from None
    return web.json_response({
        "query": query, "scanned": result.scanned, "matched": result.matched,
        "truncated": result.truncated,
        "items": [{"title": a.title, "url": a.link, "feed": a.feed_name,
                   "published": jsonable(a.published), "terms": list(m.terms),
                   "snippet": m.snippet, "evidence": jsonable(m.hits)}
                  for a, m in result.shown],
    })
