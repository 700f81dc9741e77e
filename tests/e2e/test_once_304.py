"""A cron `once` whose feeds all answer 304 does only what a 304 needs: it loads no
apprise (its webhook URL is checked by pattern) and compiles no rule (the config's
rules compiled in the run before, so they compile when a new item needs them)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from feedserver import FeedServer
from receivers import WebhookReceiver

FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Wire</title><link>https://wire.test/</link>
<item><title>Zoom shifts to a partner-only model in mainland China</title>
  <link>https://wire.test/zoom-china</link><guid>w1</guid></item>
</channel></rss>"""

NEW_ITEM = """<item><title>Senators weigh a TikTok ban</title>
  <link>https://wire.test/tiktok</link><guid>w2</guid></item>"""

CONFIG = """
database: sqlite:///monitor.db
poll: {{timeout: 5s, backlog: 36500d}}
feeds:
  - {{url: "{feed}", name: Wire}}
recipients:
  hook: ["{hook}"]
rules:
  - {{name: zoom, query: 'Zoom AND China', notify: [hook]}}
  - {{name: other, query: 'TikTok NEAR/3 ban*', notify: [hook]}}
"""


def once(config: Path, cache: Path) -> tuple[str, set[str]]:
    """Its stderr and every module it imported."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env["XDG_CACHE_HOME"] = str(cache)
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "monitor",
                           "--log-level", "INFO", "once", "-c", str(config)],
                          cwd=config.parent, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    modules = {line.split("|")[-1].strip() for line in done.stderr.splitlines()
               if line.startswith("import time:")}
    return done.stderr, modules


def test_an_all_304_once_loads_no_apprise_and_compiles_no_rule(tmp_path: Path) -> None:
    cache = tmp_path / "cache"  # empty: no apprise schema index to lean on either
    with FeedServer() as feeds, WebhookReceiver() as hook:
        config = tmp_path / "monitor.yaml"
        config.write_text(CONFIG.format(feed=feeds.add("/wire.xml", FEED, etag='"v1"',
                                                       content_type="application/rss+xml"),
                                        hook=hook.json_url("/hook")), encoding="utf-8")
        first, first_modules = once(config, cache)
        assert "rules.compiled" in first and len(hook.delivered) == 1
        assert "apprise" in first_modules  # the probe sees a send's imports

        second, modules = once(config, cache)
        assert "1 feed polled (0 failed, 1 unchanged)" in second
        assert feeds.requests_to("/wire.xml")[-1].headers.get("if-none-match") == '"v1"'
        assert "rules.compiled" not in second
        assert {m.split(".")[0] for m in modules} & {"apprise", "requests"} == set()
        assert "monitor.service" in modules  # the probe sees the command's own modules
        assert len(hook.delivered) == 1

        # A new item: the rules, known valid, compile on first use and alert it.
        feeds.add("/wire.xml", FEED.replace("</channel>", NEW_ITEM + "</channel>"),
                  etag='"v2"', content_type="application/rss+xml")
        third, _ = once(config, cache)
        assert "rules.compiled" in third
        assert sorted(r.json["title"] for r in hook.delivered) == [
            "[other] Senators weigh a TikTok ban",
            "[zoom] Zoom shifts to a partner-only model in mainland China"]
