"""Feed URLs are the feeds' identity: every output shows them as written (issue 8.1).

What is secret stays masked: a ``${VAR}`` value inside a feed URL. Everything runs
through the real CLI against the real-world corpus served on 127.0.0.1.
"""

from __future__ import annotations

import json
from pathlib import Path

from clirun import cli
from feedserver import FeedServer

FEED = """<?xml version="1.0"?><rss version="2.0"><channel><title>Private</title>
<item><title>Only for subscribers</title><link>https://p.test/1</link><guid>1</guid></item>
</channel></rss>"""


def test_every_corpus_url_round_trips_through_status_and_once(
    tmp_path: Path, shared_data: Path
) -> None:
    files = sorted(p for p in (shared_data / "feeds" / "realworld").rglob("*") if p.is_file())
    assert len(files) >= 136
    with FeedServer() as server:
        urls = [server.add_file(f"/realworld/{p.parent.name}/{p.name}", p) for p in files]
        # The one private feed: its token comes from the environment.
        server.add("/private/s3cr3tT0kenValue42/feed.xml", FEED)
        private = f"{server.base_url}/private/${{FEED_TOKEN}}/feed.xml"
        config = tmp_path / "monitor.yaml"
        config.write_text(
            "database: sqlite:///state.db\npoll: {timeout: 10s}\nfeeds:\n"
            + "".join(f"  - url: {json.dumps(u)}\n" for u in [*urls, private])
        )
        env = {"FEED_TOKEN": "s3cr3tT0kenValue42"}
        once = cli("once", "-c", str(config), cwd=tmp_path, env=env, timeout=300)
        status = cli("status", "-c", str(config), "--format", "json", cwd=tmp_path, env=env)
    assert once.returncode == 0, once.stderr
    assert status.returncode == 0, status.stderr
    shown = [row["url"] for row in json.loads(status.stdout)]
    masked = f"{server.base_url}/private/***/feed.xml"
    assert sorted(shown) == sorted([*urls, masked])
    # `once` names a failing feed by its full URL (some corpus files are broken).
    failed = [line.removeprefix("feed failed: ").split(": ")[0]
              for line in once.stderr.splitlines() if line.startswith("feed failed: ")]
    assert failed and set(failed) <= set(urls)
    for output in (once.stderr, once.stdout, status.stdout, status.stderr):
        assert "s3cr3tT0kenValue42" not in output


def test_text_that_looks_like_an_emoji_code_is_printed_as_written(tmp_path: Path) -> None:
    """rich turns ``:cat:`` into a cat by default; a URL or a feed's error is data."""
    with FeedServer() as server:
        url = f"{server.base_url}/news:cat:/feed.xml"  # not served: the feed fails, by URL
        config = tmp_path / "monitor.yaml"
        config.write_text(f"database: sqlite:///state.db\nfeeds:\n  - url: {json.dumps(url)}\n")
        once = cli("once", "-c", str(config), cwd=tmp_path)
    assert once.returncode == 0, once.stderr
    assert f"feed failed: {url}: " in once.stderr
    assert "\N{CAT FACE}" not in once.stderr
