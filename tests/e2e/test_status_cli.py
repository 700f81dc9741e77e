"""`status` tells the truth from the first minute: configured feeds before any poll,
and a 410-disabled feed as not active."""

from __future__ import annotations

import json
from pathlib import Path

from clirun import cli
from feedserver import FeedServer

CONFIG = """
database: sqlite:///state/monitor.db
poll: {{interval: 15m, timeout: 5s}}
feeds:
  - {{url: "{ok}", name: Fine}}
  - {{url: "{gone}", name: Gone}}
"""
RSS = '<?xml version="1.0"?><rss version="2.0"><channel><title>T</title></channel></rss>'


def test_status_before_any_poll_lists_the_configured_feeds_then_410_is_inactive(
    tmp_path: Path, db_url: str
) -> None:
    with FeedServer() as feeds:
        ok = feeds.add("/ok.xml", RSS, content_type="application/rss+xml")
        gone = feeds.add("/gone.xml", "bye", status=410)
        config = tmp_path / "monitor.yaml"
        config.write_text(CONFIG.format(ok=ok, gone=gone))

        table = cli("status", "-c", str(config), cwd=tmp_path, db_url=db_url,
                    env={"COLUMNS": "200"})
        assert table.returncode == 0, table.stderr
        assert "(nothing)" not in table.stdout and "not polled yet" in table.stdout
        before = json.loads(cli("status", "-c", str(config), "--format", "json",
                                cwd=tmp_path, db_url=db_url).stdout)
        assert {(r["url"], r["health"], r["active"]) for r in before} == {
            (ok, "new: not polled yet", True), (gone, "new: not polled yet", True)}

        assert cli("once", "-c", str(config), cwd=tmp_path, db_url=db_url).returncode == 0
        after = {r["url"]: r for r in json.loads(cli(
            "status", "-c", str(config), "--format", "json", cwd=tmp_path, db_url=db_url).stdout)}
        assert (after[ok]["active"], after[gone]["active"]) == (True, False)
        assert after[gone]["disabled_reason"].startswith("HTTP 410")
