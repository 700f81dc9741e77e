"""Crash safety of full text: SIGKILL the real daemon right after it saved a teaser
article (before it claimed the article's page), start it again: the page must still
be fetched, once, and the body-only rule alert.

The kill is placed exactly (a wrapper kills the process as soon as ``save_articles``
returns), so the test does not depend on timing; the waits are guards against a
hang, each waiting for an event (a request, an alert, the process exiting)."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from daemon import start_daemon, stop_daemon, wait_until
from feedserver import FeedServer
from receivers import WebhookReceiver

PAGES = Path(__file__).resolve().parent.parent / "data" / "pages"

#: Runs the CLI; with NEWS_MONITOR_TEST_DIE_AFTER_SAVE set, the process SIGKILLs itself
#: the moment a transaction that stored new articles has committed.
DAEMON = """
import os, signal, sys
if os.environ.get("NEWS_MONITOR_TEST_DIE_AFTER_SAVE"):
    from monitor.store.repo import Store
    save = Store.save_articles
    def save_then_die(self, *args, **kwargs):
        result = save(self, *args, **kwargs)
        if result.new_articles:
            os.kill(os.getpid(), signal.SIGKILL)
        return result
    Store.save_articles = save_then_die
from monitor.cli import main
sys.argv = ["news-monitor", *sys.argv[1:]]
main()
"""


def start(cwd: Path, log: Path, db_url: str, *, die_after_save: bool) -> subprocess.Popen[bytes]:
    return start_daemon(cwd / "monitor.yaml", log, db_url=db_url, log_level="INFO",
                        env={"NEWS_MONITOR_TEST_DIE_AFTER_SAVE": "1"} if die_after_save else {},
                        wrapper=DAEMON)


def test_sigkill_between_saving_an_article_and_claiming_its_page(
    tmp_path: Path, db_url: str
) -> None:
    with FeedServer() as server, WebhookReceiver() as hook:
        server.add("/robots.txt", "User-agent: *\nAllow: /\n", content_type="text/plain")
        server.add_file("/world/court", PAGES / "court-tiktok.html",
                        content_type="text/html; charset=utf-8")
        feed = server.add("/wire.xml", (
            '<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>'
            f"<item><title>Appeals court rules on app</title><link>{server.url('/world/court')}"
            "</link><guid>court</guid><description>Judges ruled.</description></item>"
            "</channel></rss>"), content_type="application/rss+xml")
        (tmp_path / "monitor.yaml").write_text(f"""
poll: {{interval: 15m, timeout: 5s, tick: 1s, parse_workers: 0}}
feeds: [{{url: "{feed}", name: Wire}}]
recipients: {{hook: ["{hook.json_url()}"]}}
default_notify: [hook]
rules: [{{name: deadline, query: '"divestiture deadline"'}}]  # only in the page body
delivery: {{tick: 1s}}
""")
        log = tmp_path / "daemon.log"
        first = start(tmp_path, log, db_url, die_after_save=True)
        assert first.wait(timeout=90) == -signal.SIGKILL, log.read_text()[-3000:]
        assert server.requests_to("/world/court") == []  # killed before the page
        second = start(tmp_path, log, db_url, die_after_save=False)
        try:
            wait_until(lambda: hook.requests, "the body-only alert after the restart")
            time.sleep(1.5)  # a second fetch or alert would come within a tick or two
        finally:
            code = stop_daemon(second)
    assert code == 0, log.read_text()[-3000:]
    assert [r.json["title"] for r in hook.requests] == ["[deadline] Appeals court rules on app"]
    assert len(server.requests_to("/world/court")) == 1
    # The feed was not polled again (its lease is the dead process's): the restarted
    # daemon found the page it had to fetch in the database.
    assert len(server.requests_to("/wire.xml")) == 1
