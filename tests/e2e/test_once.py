"""End to end through the CLI: feeds served locally, alerts to a real webhook
receiver and a real SMTP server, state in SQLite and in PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clirun import cli
from feedserver import FeedServer
from receivers import SMTPReceiver, WebhookReceiver

WIRE = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Wire</title><link>https://wire.test/</link>
<item><title>Zoom shifts to a partner-only model in mainland China</title>
  <link>https://wire.test/zoom-china?utm_source=rss</link><guid>w1</guid>
  <pubDate>Mon, 23 Nov 2026 08:00:00 GMT</pubDate>
  <description>&lt;p&gt;Zoom Video Communications will stop selling directly in
  mainland China.&lt;/p&gt;</description></item>
<item><title>Senators weigh a TikTok ban</title><link>https://wire.test/tiktok</link>
  <guid>w2</guid><description>The bill would ban the app nationwide.</description></item>
<item><title>Photographers zoom in on China's skyline</title><link>https://wire.test/skyline</link>
  <guid>w3</guid><description>No company here: zoom in, zoom out.</description></item>
<item><title>Urban banana farms</title><link>https://wire.test/banana</link><guid>w4</guid>
  <description>TikTok creators love urban farming, no ban in sight here.</description></item>
</channel></rss>"""

TECH = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Tech</title><id>urn:tech</id>
<updated>2026-11-23T12:00:00Z</updated>
<entry><title>ZOOM's partner-only plan explained</title><id>urn:tech:1</id>
  <link href="https://tech.test/zoom-plan"/><updated>2026-11-23T11:00:00Z</updated>
  <summary>Resellers gain as ZOOM exits direct sales.</summary></entry>
<entry><title>Zoom shifts to a partner-only model in mainland China</title><id>urn:tech:2</id>
  <link href="https://WIRE.test/zoom-china?fbclid=xyz#top"/><updated>2026-11-23T11:00:00Z</updated>
  <summary>Zoom and mainland China, again.</summary></entry>
</feed>"""

CONFIG = """
database: sqlite:///ignored.db
poll: {{interval: 15m, timeout: 1s, backlog: 36500d}}  # alert the dated samples too
feeds:
  - {{url: "{wire}", name: Wire, tags: [world]}}
  - {{url: "{tech}", name: Tech}}
  - {{url: "{broken}", name: Broken}}
  - {{url: "{slow}", name: Slow}}
  - {{url: "{html}", name: Homepage}}
entities:
  Zoom: {{aliases: ["Zoom", "Zoom Video Communications"]}}
recipients:
  hook: ["{hook}"]
  mail: ["{mail}"]
rules:
  - name: zoom-china
    query: '@Zoom AND ("mainland China" OR "partner-only")'
    notify: [hook, mail]
    alert_per: article  # two articles of one story, each alerted (stories: test_stories_cli)
  - name: tiktok-ban
    query: 'TikTok NEAR/3 ban*'
    notify: [hook]
"""

# The Wire story is also syndicated by Tech (same canonical URL): whichever copy is
# polled first is stored and alerted, the other only recorded as a second source.
EXPECTED_MATCHES = {
    ("zoom-china", "https://wire.test/zoom-china"),
    ("zoom-china", "https://tech.test/zoom-plan"),
    ("tiktok-ban", "https://wire.test/tiktok"),
}


@pytest.fixture
def world(tmp_path: Path):  # type: ignore[no-untyped-def]
    with FeedServer() as feeds, WebhookReceiver() as hook, SMTPReceiver() as smtp:
        config = tmp_path / "monitor.yaml"
        config.write_text(CONFIG.format(
            wire=feeds.add("/wire.xml", WIRE, content_type="application/rss+xml"),
            tech=feeds.add("/tech.xml", TECH, content_type="application/atom+xml",
                           etag='"v1"'),
            broken=feeds.add("/broken.xml", "oops", status=500),
            slow=feeds.add("/slow.xml", WIRE, delay_s=5),
            html=feeds.add("/index.html", "<html><body><h1>Home</h1></body></html>",
                           content_type="text/html"),
            hook=hook.json_url("/hook"),
            mail=smtp.mailto_url(to="team@example.com"),
        ))
        yield config, feeds, hook, smtp


def test_once_alerts_exactly_the_matches_then_nothing_more(world, db_url: str) -> None:  # type: ignore[no-untyped-def]
    config, feeds, hook, smtp = world
    cwd = config.parent

    first = cli("once", "-c", str(config), cwd=cwd, db_url=db_url)
    assert first.returncode == 0, first.stderr

    titles = sorted(r.json["title"] for r in hook.delivered)
    assert titles == sorted([
        "[zoom-china] Zoom shifts to a partner-only model in mainland China",
        "[zoom-china] ZOOM's partner-only plan explained",
        "[tiktok-ban] Senators weigh a TikTok ban",
    ])
    assert sorted(m.subject for m in smtp.messages) == sorted([
        "[zoom-china] Zoom shifts to a partner-only model in mainland China",
        "[zoom-china] ZOOM's partner-only plan explained",
    ])
    body = next(r.json["message"] for r in hook.delivered if "TikTok" in r.json["title"])
    assert "https://wire.test/tiktok" in body and "Wire" in body

    out = cli("matches", "-c", str(config), "--format", "jsonl", cwd=cwd, db_url=db_url)
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert {(r["rule"], r["url"].split("?")[0].lower()) for r in rows} == EXPECTED_MATCHES
    assert len(rows) == len(EXPECTED_MATCHES)
    zoom = next(r for r in rows if r["url"] == "https://tech.test/zoom-plan")
    assert "@Zoom" in zoom["terms"] and '"partner-only"' in zoom["terms"]
    assert "«" in zoom["snippet"]
    # The evidence points into the original title: "ZOOM's partner-only plan explained".
    evidence = {(e["term"], e["field"], e["start"], e["end"], e["text"]) for e in zoom["evidence"]}
    assert ("@Zoom", "title", 0, 4, "ZOOM") in evidence
    assert ('"partner-only"', "title", 7, 19, "partner-only") in evidence

    second = cli("once", "-c", str(config), cwd=cwd, db_url=db_url)
    assert second.returncode == 0, second.stderr
    assert len(hook.requests) == 3 and len(smtp.messages) == 2
    # The second poll of the ETag feed was conditional.
    assert feeds.requests_to("/tech.xml")[-1].headers.get("if-none-match") == '"v1"'


def test_broken_feeds_are_recorded_and_the_others_still_alert(world, db_url: str) -> None:  # type: ignore[no-untyped-def]
    config, _feeds, hook, _smtp = world
    cwd = config.parent
    assert cli("once", "-c", str(config), cwd=cwd, db_url=db_url).returncode == 0
    assert len(hook.delivered) == 3

    out = cli("status", "-c", str(config), "--format", "json", cwd=cwd, db_url=db_url)
    assert out.returncode == 0, out.stderr
    feeds = {row["name"]: row for row in json.loads(out.stdout)}
    assert feeds["Broken"]["last_status"] == 500
    assert "500" in feeds["Broken"]["last_error"] and feeds["Broken"]["error_count"] == 1
    assert "timeout" in feeds["Slow"]["last_error"].lower()
    assert "not a feed" in feeds["Homepage"]["last_error"].lower()
    assert feeds["Wire"]["last_error"] is None and feeds["Wire"]["error_count"] == 0
    assert feeds["Wire"]["articles"] == 4
    assert feeds["Tech"]["articles"] == 2  # the syndicated copy counts as a source
    for row in feeds.values():
        assert row["last_polled_at"] is not None
