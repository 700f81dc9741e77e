"""Issue 8, item 7: a failed email names its cause. apprise only says "Connection error
while submitting email"; the reason (no AUTH, a server that never answers) is in its
DEBUG lines, and must reach `notify-test`, `alerts list` and the logs, secrets redacted.
Real aiosmtpd servers and a real socket that accepts and never answers."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from clirun import cli
from feedserver import FeedServer
from receivers import SMTPReceiver

PASSWORD = "s3cr3t-Pa55w0rd"

CONFIG = """\
database: sqlite:///{db}
feeds:
  - url: {feed}
rules:
  - name: zoom
    query: Zoom
    notify: [ops]
recipients:
  ops: ["{target}"]
"""

FEED = """<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
<item><title>Zoom exits mainland China</title><link>https://t.test/1</link><guid>1</guid></item>
</channel></rss>"""


@pytest.fixture
def hung_server() -> Iterator[int]:
    """A port that accepts TCP connections and never says a word (no SMTP greeting)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


def no_auth_url(smtp: SMTPReceiver) -> str:
    # Credentials for a server that offers no AUTH: apprise cannot log in.
    return smtp.mailto_url(to="team@example.com").replace(
        "mailto://", f"mailto://bob:{PASSWORD}@")


def write_config(tmp_path: Path, target: str, feed: str = "https://t.test/feed.xml") -> Path:
    config = tmp_path / "monitor.yaml"
    config.write_text(CONFIG.format(db=tmp_path / "m.db", feed=feed, target=target))
    return config


def test_notify_test_names_the_missing_smtp_auth(tmp_path: Path) -> None:
    with SMTPReceiver() as smtp:
        config = write_config(tmp_path, no_auth_url(smtp))
        done = cli("notify-test", "ops", "-c", str(config), cwd=tmp_path)
    assert done.returncode == 1
    assert "SMTP AUTH extension not supported" in done.stderr, done.stderr
    assert "recipients.ops[0]" in done.stderr
    assert PASSWORD not in done.stderr + done.stdout
    assert smtp.messages == []


def test_notify_test_calls_a_hung_server_a_timeout(tmp_path: Path, hung_server: int) -> None:
    target = (f"mailto://127.0.0.1:{hung_server}?mode=insecure&from=m@example.com"
              "&to=team@example.com&cto=1")
    config = write_config(tmp_path, target)
    started = time.monotonic()
    done = cli("notify-test", "ops", "-c", str(config), cwd=tmp_path)
    assert done.returncode == 1
    failure = done.stderr.split("failed: recipients.ops[0]: ", 1)[1]
    assert failure.startswith("timeout: "), done.stderr
    assert "timed out" in failure
    assert time.monotonic() - started < 60  # the 1 s timeout applied, not a hang


def test_a_failed_alert_keeps_the_cause_in_alerts_list_and_the_log(tmp_path: Path) -> None:
    with SMTPReceiver() as smtp, FeedServer() as feeds:
        config = write_config(tmp_path, no_auth_url(smtp), feeds.add("/f.xml", FEED))
        once = cli("--log-level", "WARNING", "once", "-c", str(config), cwd=tmp_path)
    assert once.returncode == 0, once.stderr
    assert "alert.failed" in once.stderr
    assert "SMTP AUTH extension not supported" in once.stderr
    # said once, in our line with its cause: apprise's own warning is not printed beside it
    assert not [line for line in once.stderr.splitlines() if " WARNING apprise " in line]
    listed = cli("alerts", "list", "-c", str(config), "--format", "jsonl", cwd=tmp_path)
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [r["status"] for r in rows] == ["failed"]
    assert "SMTP AUTH extension not supported" in rows[0]["last_error"]
    assert PASSWORD not in once.stderr + listed.stdout
