"""The OpenAPI 3.1 description of ``/api/v1`` (tests validate real responses against it)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from monitor import __version__

_TIME = {"type": ["string", "null"], "format": "date-time"}
_STR_OR_NULL = {"type": ["string", "null"]}
_STRINGS = {"type": "array", "items": {"type": "string"}}


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": props,
            "required": list(props) if required is None else required}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _page(item: str) -> dict[str, Any]:
    return _obj({"items": {"type": "array", "items": _ref(item)}, "next_cursor": _STR_OR_NULL})


HIT = _obj({"term": {"type": "string"}, "field": {"type": "string"},
            "start": {"type": "integer"}, "end": {"type": "integer"}, "text": {"type": "string"}})
SCHEMAS: dict[str, Any] = {
    "Hit": HIT,
    "Match": _obj({"id": {"type": "integer"}, "rule": {"type": "string"},
                   "article_id": {"type": "integer"}, "title": {"type": "string"},
                   "url": _STR_OR_NULL, "feed": {"type": "string"}, "published": _TIME,
                   "matched_at": {"type": "string", "format": "date-time"},
                   "story": {"type": ["integer", "null"]}, "language": _STR_OR_NULL,
                   "terms": _STRINGS, "snippet": {"type": "string"},
                   "evidence": {"type": "array", "items": _ref("Hit")}}),
    "StoryArticle": _obj({"id": {"type": "integer"}, "title": {"type": "string"},
                          "url": _STR_OR_NULL, "feed": {"type": "string"},
                          "published": _TIME,
                          "fetched_at": {"type": "string", "format": "date-time"},
                          "language": _STR_OR_NULL, "rules": _STRINGS}),
    "Story": _obj({"id": {"type": "integer"}, "title": {"type": "string"},
                   "first_seen": {"type": "string", "format": "date-time"},
                   "last_seen": {"type": "string", "format": "date-time"},
                   "feeds": _STRINGS, "rules": _STRINGS,
                   "articles": {"type": "array", "items": _ref("StoryArticle")}}),
    "ApplyResult": _obj({"scanned": {"type": "integer"}, "new_matches": {"type": "integer"},
                         "new_alerts": {"type": "integer"}}),
    "Article": _obj({"id": {"type": "integer"}, "title": {"type": "string"}, "url": _STR_OR_NULL,
                     "feed": {"type": "string"}, "published": _TIME,
                     "fetched_at": {"type": "string", "format": "date-time"},
                     "summary": {"type": "string"}, "rules": _STRINGS}),
    "Feed": _obj({"url": {"type": "string"}, "name": {"type": "string"},
                  "active": {"type": "boolean"}, "state": {
                      "enum": ["ok", "failing", "disabled", "new", "inactive"]},
                  "health": {"type": "string"}, "next_poll": {"type": "string"},
                  "last_status": {"type": ["integer", "null"]}, "last_error": _STR_OR_NULL,
                  "error_count": {"type": "integer"}, "articles": {"type": "integer"},
                  "last_polled_at": _TIME, "next_poll_at": _TIME, "fetch_url": _STR_OR_NULL,
                  "disabled_reason": _STR_OR_NULL,
                  "items_per_day": {"type": ["number", "null"]},
                  "lease_owner": _STR_OR_NULL, "lease_until": _TIME}),
    "Rule": _obj({"name": {"type": "string"}, "query": {"type": "string"}, "notify": _STRINGS,
                  "feeds": _STRINGS, "tags": _STRINGS, "mode": {"enum": ["immediate", "digest"]},
                  "max_per_hour": {"type": ["integer", "null"]},
                  "matches_24h": {"type": "integer"}, "matches_7d": {"type": "integer"},
                  "matches_per_day": {"type": "array", "items": {"type": "integer"}}}),
    "Alert": _obj({"id": {"type": "integer"}, "rule": _STR_OR_NULL,
                   "kind": {"enum": ["match", "digest"]}, "recipient": {"type": "string"},
                   "status": {"enum": ["pending", "failed", "sent", "dead", "held", "digested"]},
                   "attempts": {"type": "integer"}, "last_error": _STR_OR_NULL,
                   "created_at": {"type": "string", "format": "date-time"}, "sent_at": _TIME,
                   "next_attempt_at": _TIME, "title": _STR_OR_NULL}),
    "TrialMatch": _obj({"title": {"type": "string"}, "url": _STR_OR_NULL,
                        "feed": {"type": "string"}, "published": _TIME, "terms": _STRINGS,
                        "snippet": {"type": "string"},
                        "evidence": {"type": "array", "items": _ref("Hit")}}),
    "TestRuleResult": _obj({"query": {"type": "string"}, "scanned": {"type": "integer"},
                            "matched": {"type": "integer"}, "truncated": {"type": "boolean"},
                            "items": {"type": "array", "items": _ref("TrialMatch")}}),
    "Problem": _obj({"type": {"type": "string"}, "title": {"type": "string"},
                     "status": {"type": "integer"}, "detail": {"type": "string"},
                     "column": {"type": ["integer", "null"]}, "parameter": {"type": "string"}},
                    ["type", "title", "status"]),
    "Done": {"type": "object"},
    "MatchPage": _page("Match"), "ArticlePage": _page("Article"), "FeedPage": _page("Feed"),
    "RulePage": _page("Rule"), "AlertPage": _page("Alert"), "StoryPage": _page("Story"),
}


def _param(name: str, doc: str, where: str = "query", kind: str = "string") -> dict[str, Any]:
    return {"name": name, "in": where, "required": where == "path", "description": doc,
            "schema": {"type": kind}}


_PAGING = [_param("cursor", "next_cursor of the previous page"),
           _param("limit", "rows per page, 1-200 (default 50)", kind="integer")]
_MATCH_FILTERS = [_param("rule", "rule name"), _param("feed", "feed name"),
                  _param("tag", "feed tag"), _param("story", "story id", kind="integer"),
                  _param("since", "7d, 2h or an ISO 8601 time"),
                  _param("until", "7d, 2h or an ISO 8601 time"),
                  _param("q", "words that must all appear in the article")]
_ID = [_param("id", "numeric id", "path", "integer")]
_URL_BODY = {"required": True, "content": {"application/json": {"schema": _obj(
    {"url": {"type": "string", "description": "the feed's URL as configured"},
     "name": {"type": "string", "description": "or the feed's name"}}, [])}}}
_APPLY_BODY = {"required": True, "content": {"application/json": {"schema": _obj(
    {"rules": {**_STRINGS, "description": "rule names (default: every rule)"},
     "since": {"type": "string", "default": "7d"},
     "alert": {"type": "boolean", "default": False}}, [])}}}
_IDS_BODY = {"required": True, "content": {"application/json": {"schema": _obj(
    {"ids": {"type": "array", "items": {"type": "integer"}}})}}}
_TEST_BODY = {"required": True, "content": {"application/json": {"schema": _obj(
    {"query": {"type": "string"}, "since": {"type": "string", "default": "30d"}}, ["query"])}}}


def _op(summary: str, schema: str, parameters: list[Any] | None = None,
        body: dict[str, Any] | None = None, admin: bool = False,
        conflict: bool = False) -> dict[str, Any]:
    problem = {"description": "a problem document",
               "content": {"application/problem+json": {"schema": _ref("Problem")}}}
    op: dict[str, Any] = {
        "summary": summary + (" (role admin)" if admin else ""),
        "parameters": parameters or [],
        "responses": {"200": {"description": "OK", "content": {
            "application/json": {"schema": _ref(schema)}}},
            "400": problem, "401": problem, "403": problem, "404": problem}}
    if conflict:  # e.g. a feed URL shown as *** that fits two feeds
        op["responses"]["409"] = problem
    if body:
        op["requestBody"] = body
    return op


PATHS: dict[str, Any] = {
    "/matches": {"get": _op("Matches, newest first", "MatchPage", _MATCH_FILTERS + _PAGING)},
    "/matches/{id}": {"get": _op("One match with its evidence", "Match", _ID)},
    "/articles": {"get": _op("Stored articles, newest first", "ArticlePage",
                             [_param("q", "search words"), _param("feed", "feed name"), *_PAGING])},
    "/feeds": {"get": _op("Feeds and their health", "FeedPage",
                          [_param("errors", "1: only feeds with errors")])},
    "/feeds/enable": {"post": _op("Poll a disabled feed again", "Done", body=_URL_BODY,
                                  admin=True, conflict=True)},
    "/feeds/poll": {"post": _op("Poll a feed at the next tick", "Done", body=_URL_BODY,
                                admin=True, conflict=True)},
    "/feeds/poll-failing": {"post": _op("Poll every failing feed at the next tick", "Done",
                                        admin=True)},
    "/stories": {"get": _op("Stories (one event across outlets), newest first", "StoryPage",
                            [_param("since", "7d (default), 2h, an ISO 8601 time, or all"),
                             _param("rule", "only stories this rule matched"), *_PAGING])},
    "/stories/{id}": {"get": _op("One story with its articles", "Story", _ID)},
    "/rules": {"get": _op("Rules with recent match counts", "RulePage")},
    "/rules/apply": {"post": _op("Apply rules to stored articles: record their matches "
                                 "(and queue alerts never sent, with alert: true)",
                                 "ApplyResult", body=_APPLY_BODY, admin=True)},
    "/test-rule": {"post": _op("What a query would match among stored articles",
                               "TestRuleResult", body=_TEST_BODY)},
    "/alerts": {"get": _op("The outbox, newest first", "AlertPage",
                           [_param("status", "pending, failed, sent, dead, held, digested"),
                            *_PAGING])},
    "/alerts/{id}/retry": {"post": _op("Retry a failed or dead alert", "Done", _ID, admin=True)},
    "/alerts/retry-dead": {"post": _op("Retry every dead alert", "Done", admin=True)},
    "/alerts/retry": {"post": _op("Retry these failed or dead alerts", "Done",
                                  body=_IDS_BODY, admin=True)},
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "news-monitor API", "version": __version__},
    "servers": [{"url": "/api/v1"}],
    "security": [{"bearer": []}],
    "paths": PATHS,
    "components": {"schemas": SCHEMAS,
                   "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
}


async def document(request: web.Request) -> web.Response:
    return web.json_response(DOCUMENT)
