"""Request parameters parsed and validated once, for pages and API alike.

A bad value raises a 400 problem naming the parameter; nothing is guessed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from monitor.config import parse_duration
from monitor.store.tables import ALERT_STATUSES
from monitor.store.views import MAX_PAGE, MatchFilter
from monitor.web.problems import bad_request

#: The most bytes a JSON request body may have.
MAX_BODY = 64_000


def since(value: str, now: datetime, name: str) -> datetime:
    """``7d``/``2h`` (that long before ``now``) or an ISO 8601 time (UTC if no zone)."""
    value = value.strip()
    try:
        return now - timedelta(seconds=parse_duration(value))
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(value)  # 3.11 reads a trailing Z
    except ValueError:
        raise bad_request(f"{name}: expected a duration like 7d or an ISO 8601 time, "
                          f"got {value[:60]!r}", parameter=name) from None
    return when if when.tzinfo else when.replace(tzinfo=now.tzinfo)


def _text(query: Mapping[str, str], name: str) -> str | None:
    value = query.get(name, "").strip()
    if len(value) > 500:
        raise bad_request(f"{name}: at most 500 characters", parameter=name)
    return value or None


def match_filter(query: Mapping[str, str], now: datetime) -> MatchFilter:
    """The match filter of a query string: rule, feed, tag, story, since, until, q."""
    since_ = _text(query, "since")
    until = _text(query, "until")
    return MatchFilter(rule=_text(query, "rule"), feed=_text(query, "feed"),
                       tag=_text(query, "tag"), story=optional_id(query, "story"),
                       since=since(since_, now, "since") if since_ else None,
                       until=since(until, now, "until") if until else None,
                       search=_text(query, "q"))


def optional_id(query: Mapping[str, str], name: str) -> int | None:
    """A numeric id parameter, or None when absent or empty."""
    raw = query.get(name, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise bad_request(f"{name}: expected a whole number", parameter=name)
    return int(raw)


def story_filter(query: Mapping[str, str], now: datetime) -> tuple[datetime | None, str | None]:
    """(since, rule) of a story list request (since: default 7d, ``all``: no limit)."""
    raw = _text(query, "since") or "7d"
    return (None if raw == "all" else since(raw, now, "since")), _text(query, "rule")


def paging(query: Mapping[str, str]) -> tuple[str | None, int]:
    """(cursor, limit) of a list request; limit 1..MAX_PAGE, default 50."""
    raw = query.get("limit", "50")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise bad_request(f"limit: expected a whole number from 1 to {MAX_PAGE}",
                          parameter="limit")
    return query.get("cursor") or None, int(raw)


def alert_status(value: str | None) -> str | None:
    if not value:
        return None
    if value not in ALERT_STATUSES:
        raise bad_request(f"status: one of {', '.join(ALERT_STATUSES)}", parameter="status")
    return value


def path_id(request: web.Request) -> int:
    raw = request.match_info.get("id", "")
    if not raw.isdigit() or len(raw) > 18:
        raise bad_request("the id in the path must be a whole number")
    return int(raw)


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object (at most MAX_BODY bytes)."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise bad_request(f"the body is larger than {MAX_BODY} bytes")
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise bad_request(f"the body is larger than {MAX_BODY} bytes")
    try:
        body = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError) as e:
        raise bad_request(f"the body is not JSON: {e}") from None
    if not isinstance(body, dict):
        raise bad_request("the body must be a JSON object")
    return body
