"""SIGHUP reloads the config of a running daemon: new rules apply to the next
articles; a broken file is refused and the running configuration kept."""

from __future__ import annotations

import signal
from pathlib import Path

from daemon import start_daemon, stop_daemon, wait_until
from feedserver import FeedServer
from receivers import WebhookReceiver

CONFIG = """
database: sqlite:///state/monitor.db
poll: {{interval: 1s, tick: 1s, jitter: 0}}
delivery: {{tick: 1s}}
feeds:
  - {{url: "{feed}", name: Wire}}
recipients:
  hook: ["{hook}"]
rules:
  - {{name: zoom, query: Zoom, notify: [hook], alert_per: article}}
{extra}
"""

ITEM = "<item><title>{title}</title><link>https://w.test/{n}</link><guid>{n}</guid></item>"


def feed(*titles: str) -> str:
    items = "".join(ITEM.format(title=t, n=i) for i, t in enumerate(titles))
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>W</title>{items}</channel></rss>'


def test_sighup_applies_new_rules_and_refuses_a_broken_file(tmp_path: Path) -> None:
    with FeedServer() as feeds, WebhookReceiver() as hook:
        url = feeds.add("/wire.xml", feed("Zoom earnings beat", "TikTok ban advances"))
        config = tmp_path / "monitor.yaml"
        config.write_text(CONFIG.format(feed=url, hook=hook.json_url(), extra=""))
        log = tmp_path / "daemon.log"
        proc = start_daemon(config, log)
        try:
            first = hook.wait_for(1, timeout=60)
            assert [r.json["title"] for r in first] == ["[zoom] Zoom earnings beat"]

            # A broken file: refused, logged, the daemon goes on with what it has.
            config.write_text(CONFIG.format(feed=url, hook=hook.json_url(),
                                            extra="  - {name: bad, query: 'ban NEAR/2'}"))
            proc.send_signal(signal.SIGHUP)
            wait_until(lambda: "config.reload_refused" in log.read_text(), "the refusal")
            assert proc.poll() is None

            # A recipient URL apprise cannot use: refused too, as `check` and `run` do.
            config.write_text(CONFIG.format(feed=url, hook=hook.json_url(), extra="").replace(
                f'hook: ["{hook.json_url()}"]', f'hook: ["{hook.json_url()}", "mailto://nobody"]'))
            proc.send_signal(signal.SIGHUP)
            wait_until(lambda: log.read_text().count("config.reload_refused") == 2,
                       "the second refusal")
            assert "apprise cannot use 'mailto://nobody'" in log.read_text()

            # A good file with a new rule: the next new article is matched by it.
            config.write_text(CONFIG.format(
                feed=url, hook=hook.json_url(),
                extra="  - {name: bans, query: 'ban* NEAR/3 TikTok', notify: [hook]}"))
            proc.send_signal(signal.SIGHUP)
            wait_until(lambda: "config.reloaded" in log.read_text(), "the reload")
            feeds.add("/wire.xml", feed("Zoom earnings beat", "TikTok ban advances",
                                        "Senate bans TikTok on devices"))
            delivered = hook.wait_for(2, timeout=60)
            assert [r.json["title"] for r in delivered] == [
                "[zoom] Zoom earnings beat", "[bans] Senate bans TikTok on devices"]
        finally:
            stop_daemon(proc)
        assert proc.returncode == 0, log.read_text()
