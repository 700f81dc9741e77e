"""SIGHUP reloads the config of a running daemon: new rules apply to the next
articles; a broken file is refused and the running configuration kept."""

from __future__ import annotations

import signal
import urllib.error
import urllib.request
from pathlib import Path

from daemon import start_daemon, stop_daemon, wait_until
from feedserver import FeedServer, unused_port
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


def test_sighup_says_which_changes_need_a_restart_and_keeps_serving(tmp_path: Path) -> None:
    """The web server cannot move to another address in a running daemon: a reload
    that changes `http.listen` says so (key, both values, restart) instead of
    ignoring it, keeps serving on the address it has, and applies the rest (tokens)."""
    old_port, new_port = unused_port(), unused_port()
    http = ("http:\n  listen: 127.0.0.1:{port}\n"
            "  tokens: {{ops: {{token: {token}, role: admin}}}}\n"
            "storage: {{busy_timeout: {busy}}}\n")
    old_token, new_token = "first-token-0123456789", "second-token-0123456789"
    with FeedServer() as feeds, WebhookReceiver() as hook:
        url = feeds.add("/wire.xml", feed("Zoom earnings beat"))
        config = tmp_path / "monitor.yaml"
        config.write_text(CONFIG.format(feed=url, hook=hook.json_url(), extra="")
                          + http.format(port=old_port, token=old_token, busy="30s"))
        log = tmp_path / "daemon.log"
        proc = start_daemon(config, log)
        try:
            hook.wait_for(1, timeout=60)
            config.write_text(CONFIG.format(feed=url, hook=hook.json_url(), extra="")
                              + http.format(port=new_port, token=new_token, busy="5s"))
            proc.send_signal(signal.SIGHUP)
            wait_until(lambda: "config.reloaded" in log.read_text(), "the reload")
            text = log.read_text()
            matches = f"http://127.0.0.1:{old_port}/api/v1/matches"
            served = [_status(matches, token) for token in (old_token, new_token)]
            moved = _status(f"http://127.0.0.1:{new_port}/livez", None)
        finally:
            stop_daemon(proc)
    assert (f"config.reload_needs_restart key=http.listen running=127.0.0.1:{old_port} "
            f"configured=127.0.0.1:{new_port}") in text
    assert "config.reload_needs_restart key=storage.busy_timeout running=30 configured=5" in text
    assert "restart news-monitor to apply it" in text
    assert "key=http.tokens" not in text  # applied: nothing to say
    assert served == [401, 200] and moved == 0  # old address, new token


def _status(url: str, token: str | None) -> int:
    """The HTTP status of a GET (0: nothing answers)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                    timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0
