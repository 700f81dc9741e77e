"""JSON Feed end to end: `test-rule --url/--file` read it, and `once` polls a JSON Feed
served over a real socket into the store (SQLite and PostgreSQL), alerting once."""

from __future__ import annotations

import json
from pathlib import Path

from clirun import cli
from feedserver import FeedServer
from receivers import WebhookReceiver

JSON_FEED = json.dumps({
    "version": "https://jsonfeed.org/version/1.1",
    "title": "Wire JSON",
    "items": [
        {"id": "j1", "url": "https://wire.test/zoom-china?utm_source=json",
         "title": "Zoom shifts to a partner-only model",
         "content_html": "<p>Zoom will sell only through partners in mainland China.</p>",
         "date_published": "2026-11-23T08:00:00Z", "tags": ["tech"],
         "authors": [{"name": "Li Wei"}]},
        {"id": "j2", "url": "https://wire.test/weather", "title": "Weather",
         "content_text": "Rain again."},
    ],
})

CONFIG = """
poll: {{interval: 15m, timeout: 5s, backlog: 36500d}}  # the item is dated: alert it
feeds:
  - {{url: "{feed}", name: WireJSON}}
recipients:
  hook: ["{hook}"]
rules:
  - name: zoom
    query: 'Zoom AND "mainland China" AND category:tech AND author:"Li Wei"'
    notify: [hook]
"""


def test_test_rule_reads_a_json_feed_by_url_and_by_file(tmp_path: Path) -> None:
    file = tmp_path / "feed.json"
    file.write_text(JSON_FEED, encoding="utf-8")
    by_file = cli("test-rule", '"mainland China"', "--file", str(file), "-f", "jsonl",
                  "-c", str(tmp_path / "absent.yaml"), cwd=tmp_path)
    assert by_file.returncode == 0, by_file.stderr
    rows = [json.loads(line) for line in by_file.stdout.splitlines()]
    assert [r["title"] for r in rows] == ["Zoom shifts to a partner-only model"]
    assert "«mainland China»" in rows[0]["snippet"]

    with FeedServer() as server:
        url = server.add("/feed.json", JSON_FEED, content_type="application/feed+json")
        by_url = cli("test-rule", "Rain", "--url", url, "-f", "jsonl",
                     "-c", str(tmp_path / "absent.yaml"), cwd=tmp_path)
        accept = server.requests_to("/feed.json")[-1].headers["accept"]
    assert "application/feed+json" in accept
    assert by_url.returncode == 0, by_url.stderr
    assert [json.loads(x)["title"] for x in by_url.stdout.splitlines()] == ["Weather"]


def test_once_polls_a_json_feed_and_alerts_once(tmp_path: Path, db_url: str) -> None:
    with FeedServer() as server, WebhookReceiver() as hook:
        config = tmp_path / "monitor.yaml"
        config.write_text(CONFIG.format(
            feed=server.add("/feed.json", JSON_FEED, content_type="application/json"),
            hook=hook.json_url("/hook")))
        for _ in range(2):
            done = cli("once", "-c", str(config), cwd=tmp_path, db_url=db_url)
            assert done.returncode == 0, done.stderr
        assert [r.json["title"] for r in hook.delivered] == [
            "[zoom] Zoom shifts to a partner-only model"]
        status = cli("status", "-c", str(config), "--format", "json", cwd=tmp_path,
                     db_url=db_url)
        (row,) = json.loads(status.stdout)
        assert row["articles"] == 2 and row["last_error"] is None
