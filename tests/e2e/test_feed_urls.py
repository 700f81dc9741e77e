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


def test_a_replaced_token_stays_masked_and_the_shown_url_names_the_feed(tmp_path: Path) -> None:
    """The row of the old URL is kept (not polled) after the token changes: it is shown
    as written, masked, although nothing knows the old token any more. `feeds enable`
    takes the URL as `status` shows it, or as the config writes it."""
    with FeedServer() as server:
        for token in ("OldT0kenValue11", "NewT0kenValue22"):
            server.add(f"/private/{token}/feed.xml", FEED)
        config = tmp_path / "monitor.yaml"
        config.write_text("database: sqlite:///state.db\nfeeds:\n"
                          f"  - url: {server.base_url}/private/${{FEED_TOKEN}}/feed.xml\n"
                          "    name: Private\n")
        old, new = {"FEED_TOKEN": "OldT0kenValue11"}, {"FEED_TOKEN": "NewT0kenValue22"}
        assert cli("once", "-c", str(config), cwd=tmp_path, env=old).returncode == 0
        assert cli("once", "-c", str(config), cwd=tmp_path, env=new).returncode == 0
        status = cli("status", "-c", str(config), "--format", "json", cwd=tmp_path, env=new)
        table = cli("status", "-c", str(config), cwd=tmp_path, env=new)
        shown = f"{server.base_url}/private/***/feed.xml"
        by_shown = cli("feeds", "enable", shown, "-c", str(config), cwd=tmp_path, env=new)
        as_written = cli("feeds", "enable", f"{server.base_url}/private/${{FEED_TOKEN}}/feed.xml",
                         "-c", str(config), cwd=tmp_path, env=new)
    assert status.returncode == 0, status.stderr
    rows = json.loads(status.stdout)
    assert [row["url"] for row in rows] == [shown, shown]
    assert sorted(row["in_config"] for row in rows) == [False, True]
    for done in (by_shown, as_written):
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"enabled: {shown}"
    for output in (status.stdout, table.stdout, by_shown.stdout, as_written.stdout):
        assert "OldT0kenValue11" not in output and "NewT0kenValue22" not in output


def test_a_short_variable_value_does_not_mask_other_feed_urls(tmp_path: Path) -> None:
    """`${SMTP_USER}` = news masks nothing in a feed URL written without a variable."""
    with FeedServer() as server:
        url = server.add("/news/feed.xml", FEED)
        config = tmp_path / "monitor.yaml"
        config.write_text(
            "database: sqlite:///state.db\n"
            f"feeds:\n  - url: {url}\n"
            "recipients:\n  mail: ['mailtos://${SMTP_USER}:${SMTP_PASSWORD}@smtp.example.org"
            "?to=t@example.org']\n")
        env = {"SMTP_USER": "news", "SMTP_PASSWORD": "hunter2hunter2"}
        assert cli("once", "-c", str(config), cwd=tmp_path, env=env).returncode == 0
        status = cli("status", "-c", str(config), "--format", "json", cwd=tmp_path, env=env)
        export = cli("feeds", "export", "-c", str(config), cwd=tmp_path, env=env)
    assert [row["url"] for row in json.loads(status.stdout)] == [url]
    assert f'xmlUrl="{url}"' in export.stdout
    assert "masked" not in export.stderr


def test_check_says_nothing_of_sqlite_paths_for_another_database(tmp_path: Path) -> None:
    config = tmp_path / "monitor.yaml"
    config.write_text("database: postgresql://postgres@127.0.0.1:5432/test\nfeeds: []\n")
    done = cli("check", "-c", str(config), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "database: postgresql://postgres@127.0.0.1:5432/test\n" in done.stdout
    assert "SQLite" not in done.stdout


#: The environment of serve_two_tokens's feeds.
TWO_TOKENS = {"TOKEN_A": "AlphaT0ken111", "TOKEN_B": "BetaT0ken2222"}


def serve_two_tokens(server: FeedServer) -> str:
    """Two private feeds under one path but for the token; the URL as a config writes
    it, with ``%s`` for the variable's name (TOKEN_A or TOKEN_B)."""
    for token in TWO_TOKENS.values():
        server.add(f"/private/{token}/feed.xml", FEED)
    return f"{server.base_url}/private/${{%s}}/feed.xml"


def test_enable_refuses_a_shown_url_that_fits_two_feeds(tmp_path: Path) -> None:
    """Two tokens, one shown form: `feeds enable` picks neither, lists both by name and
    says how to name one; the name and the ${VAR} form each pick theirs."""
    with FeedServer() as server:
        written = serve_two_tokens(server)
        config = tmp_path / "monitor.yaml"
        config.write_text("database: sqlite:///state.db\nfeeds:\n"
                          f"  - {{url: '{written % 'TOKEN_A'}', name: Alpha}}\n"
                          f"  - {{url: '{written % 'TOKEN_B'}', name: Beta}}\n")
        env = TWO_TOKENS
        assert cli("once", "-c", str(config), cwd=tmp_path, env=env).returncode == 0
        shown = f"{server.base_url}/private/***/feed.xml"
        refused = cli("feeds", "enable", shown, "-c", str(config), cwd=tmp_path, env=env)
        by_name = cli("feeds", "enable", "Beta", "-c", str(config), cwd=tmp_path, env=env)
        as_written = cli("feeds", "enable", written % "TOKEN_A", "-c", str(config),
                         cwd=tmp_path, env=env)
        # Without the config (the database alone), the stored rows are as ambiguous.
        bare = cli("feeds", "enable", shown, cwd=tmp_path, env=env,
                   db_url=f"sqlite:///{tmp_path / 'state.db'}")
    for done in (refused, bare):
        assert done.returncode == 1, done.stdout
        assert "could be any of 2 feeds" in done.stderr, done.stderr
        assert "Alpha" in done.stderr and "Beta" in done.stderr
        assert "feed's name" in done.stderr and "${VAR}" in done.stderr
        assert "enabled" not in done.stdout
    for done in (by_name, as_written):
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"enabled: {shown}"
    for done in (refused, bare, by_name, as_written):
        assert "AlphaT0ken111" not in done.stdout + done.stderr
        assert "BetaT0ken2222" not in done.stdout + done.stderr


def test_unnamed_feeds_differing_only_by_a_token_are_told_apart(tmp_path: Path) -> None:
    """Two unnamed feeds whose URLs differ only in their ${VAR} part: each is named by its
    shown URL and its place in the config, so `status` and `feeds enable` tell them apart."""
    with FeedServer() as server:
        written = serve_two_tokens(server)
        config = tmp_path / "monitor.yaml"
        config.write_text("database: sqlite:///state.db\nfeeds:\n"
                          f"  - url: {server.base_url}/open.xml\n    name: Open\n"
                          f"  - url: '{written % 'TOKEN_A'}'\n"
                          f"  - url: '{written % 'TOKEN_B'}'\n")
        env = TWO_TOKENS
        assert cli("once", "-c", str(config), cwd=tmp_path, env=env).returncode == 0
        status = cli("status", "-c", str(config), "--format", "json", cwd=tmp_path, env=env)
        shown = f"{server.base_url}/private/***/feed.xml"
        second = cli("feeds", "enable", f"{shown} (feeds[2])", "-c", str(config),
                     cwd=tmp_path, env=env)
    assert status.returncode == 0, status.stderr
    names = sorted(row["name"] for row in json.loads(status.stdout))
    assert names == ["Open", f"{shown} (feeds[1])", f"{shown} (feeds[2])"]
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == f"enabled: {shown}"
    for output in (status.stdout, second.stdout, second.stderr):
        assert "AlphaT0ken111" not in output and "BetaT0ken2222" not in output
