"""The real daemon (`news-monitor run`, a subprocess) with notifiers that hang: they
accept the connection and then trickle one byte at a time for ever (HTTP and SMTP),
so only ``delivery.timeout`` can end a send.

The other target keeps getting alerts, new ones included, while both hung sends are
still in flight; SIGTERM then ends the daemon (without the total timeout it would
wait for ever); nothing is dropped. The waits are guards against a hang, not timing
assertions.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from daemon import start_daemon, stop_daemon, wait_until
from feedserver import FeedServer
from receivers import HungServer, WebhookReceiver

from monitor.store.repo import Store


def feed_xml(n: int) -> bytes:
    items = "".join(f"<item><title>Zoom story {i}</title><link>https://wire.test/{i}</link>"
                    f"<guid>g{i}</guid></item>" for i in range(n))
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>{items}'
            "</channel></rss>").encode()


def test_hung_targets_delay_no_one_and_sigterm_ends_the_daemon(
    tmp_path: Path, db_url: str
) -> None:
    with FeedServer() as feeds, WebhookReceiver() as good, \
            HungServer("http", trickle_s=0.5) as hung_http, \
            HungServer("smtp", trickle_s=0.5) as hung_smtp:
        feed_url = feeds.add("/wire.xml", feed_xml(3), content_type="application/rss+xml")
        (tmp_path / "monitor.yaml").write_text(f"""
poll: {{interval: 1s, tick: 1s, jitter: 0, timeout: 5s, backlog: 0}}
feeds: [{{url: "{feed_url}", name: Wire}}]
recipients: {{good: ["{good.json_url()}"], web: ["{hung_http.url}"], mail: ["{hung_smtp.url}"]}}
default_notify: [good, web, mail]
rules: [{{name: zoom, query: Zoom, alert_per: article}}]
delivery: {{tick: 1s, timeout: 1m, lease: 3m}}
""")
        log = tmp_path / "daemon.log"
        daemon = start_daemon(tmp_path / "monitor.yaml", log, db_url=db_url, log_level="INFO")
        try:
            wait_until(lambda: len(good.delivered) >= 3, "the first alerts at the good target")
            wait_until(lambda: hung_http.connections and hung_smtp.connections, "hung sends")
            feeds.add("/wire.xml", feed_xml(5), content_type="application/rss+xml")
            wait_until(lambda: len(good.delivered) >= 5, "the new alerts at the good target")
            # Both hung sends are still in flight (their 1-minute timeout has not passed):
            # nothing was recorded for them yet, and no second send started.
            assert "target.stuck" not in log.read_text()
            assert (hung_http.connections, hung_smtp.connections) == (1, 1)
        finally:
            code = stop_daemon(daemon, guard_s=150)  # without a total timeout: for ever
        text = log.read_text()
        assert code == 0, text[-3000:]
        assert "service.stopped" in text
        assert Counter(r.json["title"] for r in good.delivered) == Counter(
            f"[zoom] Zoom story {i}" for i in range(5))
    with Store.open(db_url) as store:
        rows = store.list_alerts()
    by_recipient = Counter((r.recipient, r.status) for r in rows)
    assert by_recipient[("good", "sent")] == 5
    for hung in ("web", "mail"):  # every alert still there, none sent, none dead
        assert sum(n for (rcpt, _), n in by_recipient.items() if rcpt == hung) == 5
        assert by_recipient[(hung, "sent")] == by_recipient[(hung, "dead")] == 0
        assert by_recipient[(hung, "failed")] == 1  # the send that timed out at the stop


def test_notify_test_gives_up_on_a_hung_target_after_delivery_timeout(tmp_path: Path) -> None:
    from clirun import cli

    with HungServer("smtp", trickle_s=0.5) as hung, WebhookReceiver() as good:
        config = tmp_path / "monitor.yaml"
        config.write_text(f'recipients: {{ops: ["{hung.url}", "{good.json_url()}"]}}\n'
                          "delivery: {timeout: 3s}\n")
        done = cli("notify-test", "ops", "-c", str(config), cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "ops[0]: failed: timeout: no answer within 3 s (delivery.timeout)" in done.stderr
    assert "ops[1]: sent" in done.stdout
