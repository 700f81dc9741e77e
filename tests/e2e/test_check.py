"""`check` and the database a command opens, through the real CLI (issue 8.1, 8.7)."""

from __future__ import annotations

import json
from pathlib import Path

from clirun import cli
from feedserver import FeedServer

ALL_KINDS = """\
feeds:
  - {url: "https://example.com/feed.xml", nmae: Example}
recipients:
  mail: ["mailto://127.0.0.1:18025?to=policy@example.org"]
  chat: "json://127.0.0.1:9/hook"
rules:
  - name: r1
    query: '@Nobody AND China'
    notify: [caht]
  - name: r2
    query: "TikTok ban"
    notify: [chat]
"""


def test_check_shows_every_problem_at_once_with_positions(tmp_path: Path) -> None:
    config = tmp_path / "monitor.yaml"
    config.write_text(ALL_KINDS)
    result = cli("check", "-c", str(config), cwd=tmp_path)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if not line.startswith(" ")]  # no carets
    # Keys, apprise URLs, queries and references: one run, file order.
    assert [line.split(":")[0] for line in lines[1:5]] == [
        "feeds[0].nmae", "recipients.mail[0]", "rules[0] 'r1'", "rules[0].notify[0]"]
    # masking invents no password; apprise's reason and the position come with it
    assert lines[2] == (
        "recipients.mail[0]: apprise cannot use 'mailto://127.0.0.1:18025?to=policy@example.org':"
        " Invalid ~From~ email specified; add from=sender@example.org to the URL"
        " (line 4, column 10)")
    assert "unknown entity" in lines[3] and "(line 8, column 12)" in lines[3]
    # warnings come with the errors
    assert any(line.startswith('warning: rules[1].query: YAML removes these double quotes')
               for line in lines)
    assert "apprise" not in result.stderr.replace("apprise cannot use", "")  # no raw apprise log
    # The commands that send refuse the same file, with the same positions.
    once = cli("once", "-c", str(config), cwd=tmp_path)
    assert once.returncode == 1 and lines[2] in once.stderr.splitlines()


def test_check_passes_with_warnings_and_counts_in_words(tmp_path: Path) -> None:
    config = tmp_path / "monitor.yaml"
    config.write_text("""\
database: sqlite:///state/monitor.db
feeds:
  - {url: "https://example.com/feed.xml", interval: 15}
recipients:
  mail: ["mailto://127.0.0.1:18025?to=policy@example.org&from=monitor@example.org"]
rules:
  - {name: r, query: TikTok AND ban, notify: [mail]}
""")
    result = cli("check", "-c", str(config), cwd=tmp_path.parent)
    assert result.returncode == 0, result.stderr
    assert ("warning: feeds[0].interval: 15 is 15 seconds (a bare number is seconds)"
            " (line 3, column 53); write 15s to keep it, or 15m for minutes") in result.stderr
    assert f"{config}: OK (1 feed, 1 rule, 1 recipient)" in result.stdout
    # the database is named as resolved, against the config's folder
    assert (f"database: sqlite:///{tmp_path}/state/monitor.db (a relative SQLite path is "
            f"relative to {tmp_path})") in result.stdout


FEED = """<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
<item><title>TikTok ban vote delayed</title><link>https://t.test/2</link><guid>2</guid></item>
</channel></rss>"""


def test_relative_sqlite_path_follows_the_config_not_the_working_directory(
    tmp_path: Path,
) -> None:
    home, elsewhere = tmp_path / "srv" / "nm", tmp_path / "elsewhere"
    home.mkdir(parents=True)
    elsewhere.mkdir()
    with FeedServer() as server:
        config = home / "config.yaml"
        config.write_text(f"database: sqlite:///data/nm.db\npoll: {{interval: 30}}\n"
                          f"feeds:\n  - url: {server.add('/f', FEED)}\n")
        once = cli("once", "-c", str(config), cwd=tmp_path)
    assert once.returncode == 0, once.stderr
    # `once` logs the config's warnings (check prints them)
    assert "config.warning poll.interval: 30 is 30 seconds" in once.stderr
    status = cli("status", "-c", str(config), "--format", "json", cwd=elsewhere)
    assert status.returncode == 0, status.stderr
    assert [row["articles"] for row in json.loads(status.stdout)] == [1]
    assert (home / "data" / "nm.db").is_file()
    assert not (tmp_path / "data").exists() and not (elsewhere / "data").exists()


def test_read_only_commands_need_only_the_database_url(tmp_path: Path, db_url: str) -> None:
    with FeedServer() as server:
        config = tmp_path / "monitor.yaml"
        config.write_text(f"""\
feeds:
  - url: {server.add('/f', FEED)}
recipients:
  hook: ["json://127.0.0.1:9/hook"]
rules:
  - {{name: bans, query: ban, notify: [hook]}}
""")
        assert cli("once", "-c", str(config), cwd=tmp_path, db_url=db_url).returncode == 0
    bare = tmp_path / "bare"  # no config/monitor.yaml here
    bare.mkdir()
    status = cli("status", "--format", "json", cwd=bare, db_url=db_url)
    assert status.returncode == 0, status.stderr
    assert [row["articles"] for row in json.loads(status.stdout)] == [1]
    found = cli("matches", "--format", "jsonl", cwd=bare, db_url=db_url)
    assert found.returncode == 0, found.stderr
    assert [json.loads(line)["rule"] for line in found.stdout.splitlines()] == ["bans"]
    listed = cli("alerts", "list", cwd=bare, db_url=db_url)
    assert listed.returncode == 0, listed.stderr
    # Without the variable, the missing default config is still an error.
    missing = cli("status", cwd=bare)
    assert missing.returncode == 1 and "config/monitor.yaml" in missing.stderr
