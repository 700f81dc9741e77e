"""A new feed's backlog through the CLI: matched, not alerted; `rules apply --alert`
alerts it later, once."""

from __future__ import annotations

from pathlib import Path

from clirun import cli
from feedserver import FeedServer
from receivers import WebhookReceiver

CONFIG = """
database: sqlite:///state/monitor.db
poll: {{interval: 15m, timeout: 5s}}
feeds:
  - {{url: "{feed}", name: Wire}}
recipients:
  hook: ["{hook}"]
rules:
  - {{name: zoom, query: Zoom, notify: [hook]}}
"""
OLD = """<?xml version="1.0"?><rss version="2.0"><channel><title>W</title>
<item><title>Zoom in 2019</title><link>https://w.test/1</link><guid>1</guid>
  <pubDate>Mon, 07 Jan 2019 08:00:00 GMT</pubDate></item>
<item><title>Zoom in 2016</title><link>https://w.test/2</link><guid>2</guid>
  <pubDate>Fri, 01 Jan 2016 08:00:00 GMT</pubDate></item>
</channel></rss>"""


def test_backlog_is_matched_silently_then_alerted_once_on_request(
    tmp_path: Path, db_url: str
) -> None:
    with FeedServer() as feeds, WebhookReceiver() as hook:
        config = tmp_path / "monitor.yaml"
        config.write_text(CONFIG.format(feed=feeds.add("/w.xml", OLD), hook=hook.json_url()))

        def run(*args: str) -> str:
            result = cli(*args, "-c", str(config), cwd=tmp_path, db_url=db_url)
            assert result.returncode == 0, result.stderr
            return result.stdout + result.stderr

        first = run("once")
        assert "2 new matches; alerts sent 0," in first
        # It says why, and what to do.
        assert ("2 new matches not alerted: published before poll.backlog (1d) on its "
                "feed's first poll; `news-monitor rules apply --rule RULE --alert`") in first
        assert "0 new matches, 0 alerts queued" in run("rules", "apply", "--rule", "zoom")
        assert "0 new matches, 2 alerts queued" in run(
            "rules", "apply", "--rule", "zoom", "--since", "1d", "--alert")
        assert "0 alerts queued" in run("rules", "apply", "--rule", "zoom", "--alert")
        assert "alerts sent 2," in run("once")
        assert sorted(r.json["title"] for r in hook.delivered) == [
            "[zoom] Zoom in 2016", "[zoom] Zoom in 2019"]
