"""The JSON API through a real listening server, on SQLite and PostgreSQL, and every
response checked against the OpenAPI document the server publishes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from websites import ADMIN, HOSTILE_TITLE, READ, Site

EXTRA = "".join(
    f"<item><title>Zoom in China, part {i}</title><link>https://news.example/p{i}</link>"
    f"<guid>p{i}</guid><description>Zoom and China again, number {i}.</description></item>"
    for i in range(7))


@pytest.fixture
def site(db_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    with Site(db_url, tmp_path) as s:
        yield s


class Contract:
    """Validates responses against the schemas of the server's own openapi.json."""

    def __init__(self, site: Site) -> None:
        self.doc = site.get_json("/api/v1/openapi.json")
        assert self.doc["openapi"].startswith("3.1")
        self.registry = Registry().with_resource("urn:api", Resource.from_contents(
            self.doc, default_specification=DRAFT202012))

    def check(self, path: str, method: str, status: int, body: Any) -> None:
        op = self.doc["paths"][path][method]
        content = op["responses"][str(status)]["content"]
        schema = next(iter(content.values()))["schema"]
        ref = schema["$ref"].replace("#", "urn:api#", 1)
        validator = Draft202012Validator({"$ref": ref}, registry=self.registry)
        errors = sorted(validator.iter_errors(body), key=str)
        assert not errors, f"{method.upper()} {path}: {errors[0]}"


def test_every_response_matches_the_openapi_document(site: Site) -> None:
    contract = Contract(site)
    dead = site.make_dead_alert()
    checks = [
        ("GET", "/matches", "/api/v1/matches?limit=2", None, 200),
        ("GET", "/matches/{id}", "/api/v1/matches/1", None, 200),
        ("GET", "/articles", "/api/v1/articles?q=zoom", None, 200),
        ("GET", "/feeds", "/api/v1/feeds", None, 200),
        ("GET", "/rules", "/api/v1/rules", None, 200),
        ("GET", "/alerts", "/api/v1/alerts?status=dead", None, 200),
        ("POST", "/test-rule", "/api/v1/test-rule", {"query": "@Zoom", "since": "1d"}, 200),
        ("POST", "/test-rule", "/api/v1/test-rule", {"query": "@Zoom AND ("}, 400),
        ("GET", "/matches", "/api/v1/matches?since=yesterday", None, 400),
        ("GET", "/matches/{id}", "/api/v1/matches/999999", None, 404),
        ("POST", "/alerts/{id}/retry", f"/api/v1/alerts/{dead}/retry", None, 200),
        ("POST", "/alerts/retry-dead", "/api/v1/alerts/retry-dead", None, 200),
        ("POST", "/alerts/retry", "/api/v1/alerts/retry", {"ids": [dead]}, 200),
        ("POST", "/alerts/retry", "/api/v1/alerts/retry", {"ids": "all"}, 400),
        ("POST", "/feeds/poll", "/api/v1/feeds/poll", {"url": site.feeds.url("/world.xml")},
         200),
        ("POST", "/feeds/poll-failing", "/api/v1/feeds/poll-failing", None, 200),
        ("GET", "/stories", "/api/v1/stories?since=all", None, 200),
        ("GET", "/stories/{id}", f"/api/v1/stories/{site.get_json('/api/v1/matches')['items'][0]['story']}", None, 200),
        ("GET", "/stories/{id}", "/api/v1/stories/999999", None, 404),
        ("POST", "/rules/apply", "/api/v1/rules/apply", {"rules": ["weather"]}, 200),
        ("POST", "/rules/apply", "/api/v1/rules/apply", {"rules": ["no-such-rule"]}, 400),
    ]
    seen = set()
    for method, spec_path, url, body, want in checks:
        status, headers, text = site.call(method, url, token=ADMIN, json_body=body)
        assert status == want, (url, status, text)
        kind = "application/problem+json" if status >= 400 else "application/json"
        assert headers["Content-Type"].startswith(kind)
        contract.check(spec_path, method.lower(), status, json.loads(text))
        seen.add(spec_path)
    assert seen == set(contract.doc["paths"]) - {"/feeds/enable"}  # enable: next test


def test_matches_filter_by_rule_feed_tag_time_and_search(site: Site) -> None:
    def rules(query: str) -> list[str]:
        return sorted(m["rule"] for m in site.get_json(f"/api/v1/matches?{query}")["items"])

    assert rules("") == ["weather", "zoom-china", "zoom-china"]
    assert rules("rule=weather") == ["weather"]
    assert rules("feed=World&rule=zoom-china") == ["zoom-china", "zoom-china"]
    assert rules("feed=Broken") == []
    assert rules("tag=world") == ["weather", "zoom-china", "zoom-china"]
    assert rules("tag=nope") == []
    assert rules("since=1h") == ["weather", "zoom-china", "zoom-china"]
    assert rules("until=2000-01-01") == []
    assert rules("since=2000-01-01T00:00:00Z&until=2100-01-01") == ["weather", "zoom-china",
                                                                     "zoom-china"]
    assert rules("q=berlin") == ["weather"]
    assert rules("q=partner-only") == ["zoom-china"]  # a phrase across the hyphen
    assert rules("q=commun*") == ["zoom-china"]       # prefix: Communications
    assert rules("q=rogue+zoom") == ["zoom-china"]    # every word must appear
    assert rules("q=zoom+berlin") == []
    # Search syntax of the engines never leaks through: these are just words.
    assert rules("q=%22AND+OR+NEAR%28") == []
    assert rules("q=%3A*%26%7C%21") == ["weather", "zoom-china", "zoom-china"]  # no words
    evidence = site.get_json("/api/v1/matches?rule=weather")["items"][0]["evidence"]
    assert evidence == [{"term": "rain", "field": "title", "start": 9, "end": 13,
                         "text": "rain"}]


def test_cursor_pagination_walks_every_match_once(site: Site) -> None:
    site.feeds.add("/world.xml", site.feeds.routes["/world.xml"].body.replace(
        b"</channel>", EXTRA.encode() + b"</channel>"),
        headers={"Content-Type": "application/rss+xml"})
    asyncio.run(site.monitor.poll(all_feeds=True))
    seen: list[int] = []
    url = "/api/v1/matches?rule=zoom-china&limit=3"
    pages = 0
    while True:
        page = site.get_json(url)
        pages += 1
        seen += [m["id"] for m in page["items"]]
        if page["next_cursor"] is None:
            break
        url = f"/api/v1/matches?rule=zoom-china&limit=3&cursor={page['next_cursor']}"
    assert pages == 3 and len(seen) == 9 == len(set(seen))
    assert seen == sorted(seen, reverse=True)  # newest first
    for bad in ("cursor=xyz", "cursor=aWQ6eA", "limit=0", "limit=201", "limit=ten"):
        status, _, body = site.call("GET", f"/api/v1/matches?{bad}", token=READ)
        assert status == 400, bad
        assert json.loads(body)["parameter"] in ("cursor", "limit")


def test_a_bad_query_is_a_problem_with_its_column(site: Site) -> None:
    status, headers, body = site.call("POST", "/api/v1/test-rule", token=READ,
                                      json_body={"query": 'ban* NEAR/5 "unclosed'})
    problem = json.loads(body)
    assert status == 400 and headers["Content-Type"].startswith("application/problem+json")
    assert problem["status"] == 400 and problem["title"] == "Bad Request"
    assert problem["type"] == "about:blank"
    assert problem["column"] == 13 and "quote" in problem["detail"]
    for bad in ("not json", "[1]", '{"query": 5}', '{"query": "@Zoom", "since": "soon"}'):
        status, _, body = _raw(site, bad)
        assert status == 400, bad
        assert json.loads(body)["status"] == 400


def _raw(site: Site, body: str) -> tuple[int, Any, str]:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", site.port, timeout=30)
    conn.request("POST", "/api/v1/test-rule", body=body.encode(),
                 headers={"Authorization": f"Bearer {READ}", "Content-Type": "application/json"})
    response = conn.getresponse()
    result = response.status, response.headers, response.read().decode()
    conn.close()
    return result


def test_test_rule_uses_the_config_entities_and_explains(site: Site) -> None:
    result = site.get_json("/api/v1/rules")  # warm: rules are listed with counts
    assert [r["name"] for r in result["items"]] == ["zoom-china", "weather"]
    status, _, body = site.call("POST", "/api/v1/test-rule", token=READ,
                                json_body={"query": '@Zoom AND "partner-only"'})
    found = json.loads(body)
    assert status == 200 and found["scanned"] == 3 and found["matched"] == 1
    item = found["items"][0]
    assert item["title"] == "Zoom signs partner-only deal in mainland China"
    assert {"@Zoom", '"partner-only"'} == set(item["terms"])
    assert any(h["field"] == "title" for h in item["evidence"])


def test_rules_show_names_of_recipients_never_their_urls(site: Site) -> None:
    rule = site.get_json("/api/v1/rules")["items"][0]
    assert rule["notify"] == ["hook"] and rule["matches_24h"] == 2
    assert rule["matches_per_day"][-1] == 2 and len(rule["matches_per_day"]) == 14


def test_admin_actions_change_the_store(site: Site) -> None:
    dead = site.make_dead_alert()
    status, _, body = site.call("POST", f"/api/v1/alerts/{dead}/retry", token=ADMIN)
    assert (status, json.loads(body)) == (200, {"retried": 1})
    assert any(a.id == dead for a in site.monitor.store.list_alerts(status="pending"))
    status, _, _ = site.call("POST", f"/api/v1/alerts/{dead}/retry", token=ADMIN)
    assert status == 409  # pending now: nothing to retry
    url = site.feeds.url("/world.xml")
    store = site.monitor.store
    claimed = store.claim_due_feeds(site.monitor.clock(), owner="t", include_not_due=True)
    store.record_fetch(next(f.id for f in claimed if f.url == url),
                       now=site.monitor.clock(), next_poll_at=site.monitor.clock(),
                       status=410, error="gone", disabled_reason="HTTP 410 Gone")
    disabled = [f for f in site.get_json("/api/v1/feeds?errors=1")["items"]
                if f["state"] == "disabled"]
    assert [f["url"] for f in disabled] == [url]
    status, _, _ = site.call("POST", "/api/v1/feeds/enable", token=ADMIN, json_body={"url": url})
    assert status == 200
    assert all(f["state"] != "disabled" for f in site.get_json("/api/v1/feeds")["items"])
    status, _, body = site.call("POST", "/api/v1/feeds/enable", token=ADMIN,
                                json_body={"url": "https://unknown.example/feed"})
    assert status == 404 and "no configured feed" in body
    status, _, _ = site.call("POST", "/api/v1/feeds/poll", token=ADMIN,
                             json_body={"name": "World"})
    assert status == 200
    assert [f.url for f in store.claim_due_feeds(site.monitor.clock(), owner="u")] == [url]
    status, _, body = site.call("POST", "/api/v1/feeds/poll", token=ADMIN, json_body={})
    assert status == 400 and "name the feed" in body


def test_feed_text_is_returned_as_data_not_markup(site: Site) -> None:
    items = site.get_json("/api/v1/matches?rule=zoom-china")["items"]
    hostile = next(m for m in items if m["title"] == HOSTILE_TITLE)
    assert hostile["url"] == "javascript:alert(document.cookie)"  # data; pages decide


def test_stories_list_their_articles_and_filter_matches(site: Site) -> None:
    matches = site.get_json("/api/v1/matches")["items"]
    story_id = next(m["story"] for m in matches if m["rule"] == "weather")
    assert story_id is not None
    stories = site.get_json("/api/v1/stories?since=all")["items"]
    assert story_id in [s["id"] for s in stories]
    story = site.get_json(f"/api/v1/stories/{story_id}")
    assert [a["title"] for a in story["articles"]] == ["Weather: rain over Berlin"]
    assert story["rules"] == ["weather"] and story["feeds"] == ["World"]
    only = site.get_json(f"/api/v1/matches?story={story_id}")["items"]
    assert [m["rule"] for m in only] == ["weather"]
    assert site.get_json("/api/v1/stories?rule=weather&since=all")["items"][0]["id"] == story_id
    assert site.get_json("/api/v1/stories?rule=nothing-matched&since=all")["items"] == []
    status, _, body = site.call("GET", "/api/v1/matches?story=x", token=READ)
    assert status == 400 and '"parameter": "story"' in body


def test_applying_a_new_rule_records_its_matches_and_queues_alerts_once(site: Site) -> None:
    site.reload('  - {name: berlin, query: "Berlin", notify: [hook]}\n')
    assert site.get_json("/api/v1/matches?rule=berlin")["items"] == []
    status, _, body = site.call("POST", "/api/v1/rules/apply", token=READ,
                                json_body={"rules": ["berlin"]})
    assert status == 403  # a viewer changes nothing
    status, _, body = site.call("POST", "/api/v1/rules/apply", token=ADMIN,
                                json_body={"rules": ["berlin"], "since": "30d", "alert": True})
    assert status == 200, body
    assert json.loads(body) == {"scanned": 3, "new_matches": 1, "new_alerts": 1}
    [berlin] = site.get_json("/api/v1/matches?rule=berlin")["items"]
    assert berlin["title"] == "Weather: rain over Berlin"
    status, _, body = site.call("POST", "/api/v1/rules/apply", token=ADMIN,
                                json_body={"rules": ["berlin"], "alert": True})
    assert json.loads(body) == {"scanned": 3, "new_matches": 0, "new_alerts": 0}
    status, _, body = site.call("POST", "/api/v1/rules/apply", token=ADMIN,
                                json_body={"rules": "berlin"})
    assert status == 400 and "list of rule names" in body


def test_matches_already_read_show_their_feed_under_its_new_name(site: Site) -> None:
    from monitor.article import FeedSpec

    [before] = site.get_json("/api/v1/matches?rule=weather")["items"]  # read: now known
    assert before["feed"] == "World"
    site.monitor.store.sync_feeds([  # a config edit renames the feed
        FeedSpec(url=site.feeds.url("/world.xml"), name="Welt", tags=("world",)),
        FeedSpec(url=site.broken_url, name="Broken")], site.monitor.clock())
    [after] = site.get_json("/api/v1/matches?rule=weather")["items"]
    assert after == {**before, "feed": "Welt"}
    assert site.get_json(f"/api/v1/matches/{before['id']}")["feed"] == "Welt"
    assert site.get_json("/api/v1/matches?feed=Welt&rule=weather")["items"] == [after]
    assert site.get_json("/api/v1/matches?feed=World")["items"] == []


def test_selected_alerts_are_retried_in_bulk(site: Site) -> None:
    dead = site.make_dead_alert()
    status, _, body = site.call("POST", "/api/v1/alerts/retry", token=READ,
                                json_body={"ids": [dead]})
    assert status == 403
    status, _, body = site.call("POST", "/api/v1/alerts/retry", token=ADMIN,
                                json_body={"ids": [dead, 999999]})
    assert (status, json.loads(body)) == (200, {"retried": 1})  # unknown ids: ignored
    assert dead in [a.id for a in site.monitor.store.list_alerts(status="pending")]
