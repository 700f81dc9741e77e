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


STORIES = """
database: sqlite:///state/monitor.db
poll: {{interval: 15m, timeout: 5s}}
stories: {{enabled: true}}
feeds:
  - {{url: "{wire}", name: Wire}}
  - {{url: "{post}", name: Post}}
recipients:
  hook: ["{hook}"]
rules:
  - {{name: shooting, query: '"Fort Lauderdale"', notify: [hook]}}
  - {{name: each, query: '"Fort Lauderdale"', notify: [hook], alert_per: article}}
"""
SUMMARY = ("Five people were killed and eight wounded when a gunman opened fire in the "
           "baggage claim of Fort Lauderdale airport in Florida on Friday, officials said.")


def story_feed(host: str, *titles: str) -> str:
    items = "".join(f"<item><title>{t}</title><link>https://{host}/{i}</link>"
                    f"<guid>{i}</guid><pubDate>Fri, 06 Jan 2017 2{i}:00:00 GMT</pubDate>"
                    f"<description>{SUMMARY}</description></item>"
                    for i, t in enumerate(titles))
    return ('<?xml version="1.0"?><rss version="2.0"><channel><title>F</title>'
            f"{items}</channel></rss>")


def test_rules_apply_alert_alerts_a_story_once_for_a_rule_alerting_per_story(
    tmp_path: Path, db_url: str
) -> None:
    """The backlog of one event covered three times: `rules apply --alert` (what `once`
    advises) sends the per-story rule's alert once, as a live poll would."""
    with FeedServer() as feeds, WebhookReceiver() as hook:
        config = tmp_path / "monitor.yaml"
        config.write_text(STORIES.format(
            wire=feeds.add("/w.xml", story_feed(
                "wire.test", "Gunman kills five at Fort Lauderdale airport",
                "Fort Lauderdale airport shooting: five dead")),
            post=feeds.add("/p.xml", story_feed(
                "post.test", "Five killed in Fort Lauderdale airport attack")),
            hook=hook.json_url()))

        def run(*args: str) -> str:
            result = cli(*args, "-c", str(config), cwd=tmp_path, db_url=db_url)
            assert result.returncode == 0, result.stderr
            return result.stdout + result.stderr

        assert "6 new matches not alerted" in run("once")
        stories = run("stories", "list", "-f", "jsonl")
        assert stories.count('"id"') == 1, stories  # one event, one story
        assert "4 alerts queued" in run("rules", "apply", "--since", "10000d", "--alert")
        assert "0 alerts queued" in run("rules", "apply", "--since", "10000d", "--alert")
        assert "alerts sent 4," in run("once")
    titles = sorted(r.json["title"].split("]")[0] + "]" for r in hook.delivered)
    assert titles == ["[each]"] * 3 + ["[shooting]"]
