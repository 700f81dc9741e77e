"""Digests through the CLI: `once` says which alerts it held for a digest, so a run
that sends nothing at once does not look like a run that found nothing."""

from __future__ import annotations

import json
from pathlib import Path

from clirun import cli
from feedserver import FeedServer
from receivers import SMTPReceiver

FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Wire</title><link>https://wire.test/</link>
<item><title>Senators weigh a TikTok ban</title><link>https://wire.test/tiktok</link>
  <guid>w1</guid><description>The bill would ban the app nationwide.</description></item>
<item><title>TikTok ban heads to a vote</title><link>https://wire.test/vote</link>
  <guid>w2</guid><description>A vote on the ban is set for Friday.</description></item>
</channel></rss>"""

CONFIG = """
poll: {{interval: 15m, timeout: 5s}}
feeds:
  - {{url: "{feed}", name: Wire}}
recipients:
  mail: ["{mail}"]
rules:
  - name: tiktok-ban
    query: 'TikTok NEAR/3 ban*'
    notify: [mail]
    mode: digest
    digest: {{every: 1d}}
"""


def test_once_says_how_many_alerts_wait_for_the_digest(tmp_path: Path, db_url: str) -> None:
    with FeedServer() as server, SMTPReceiver() as smtp:
        config = tmp_path / "monitor.yaml"
        config.write_text(CONFIG.format(
            feed=server.add("/f.xml", FEED, content_type="application/rss+xml"),
            mail=smtp.mailto_url()))
        first = cli("once", "-c", str(config), cwd=tmp_path, db_url=db_url)
        again = cli("once", "-c", str(config), cwd=tmp_path, db_url=db_url)
        held = cli("alerts", "list", "--status", "held", "-f", "jsonl", "-c", str(config),
                   cwd=tmp_path, db_url=db_url)
    assert first.returncode == 0 and again.returncode == 0, first.stderr + again.stderr
    assert held.returncode == 0, held.stderr  # -f as every other listing command takes it
    assert smtp.messages == []  # the day's window has not ended
    assert "2 new matches; alerts sent 0" in first.stderr
    assert "2 alerts held for a digest" in first.stderr, first.stderr
    assert "held for a digest" not in again.stderr  # held once, not counted again
    table = cli("alerts", "list", "-c", str(config), cwd=tmp_path, db_url=db_url,
                env={"COLUMNS": "200"})
    assert "Senators weigh a TikTok ban" in table.stdout  # which article a row is
    rows = [json.loads(line) for line in held.stdout.splitlines()]
    assert sorted(r["url"] for r in rows) == ["https://wire.test/tiktok", "https://wire.test/vote"]
