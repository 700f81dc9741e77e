"""`news-monitor test-rule` through the real process: queries starting with '-', `--`
anywhere, regexes on RE2 (no warning noise, refusals with a caret); and the one
warning about unindexed rules, from the daemon at start."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from clirun import cli

FEED = """<?xml version="1.0"?>
<rss version="2.0"><channel><title>T</title><link>https://ex.com</link><description>d</description>
<item><title>TikTok ban vote delayed</title><link>https://ex.com/1</link>
<description>Senate delays the TikTok ban.</description></item>
<item><title>Opinion: TikTok is fine</title><link>https://ex.com/2</link>
<description>A column.</description></item>
<item><title>Weather</title><link>https://ex.com/3</link>
<description>Sunny, no bans in 2026.</description></item>
</channel></rss>
"""


@pytest.fixture
def feed_file(tmp_path: Path) -> Path:
    path = tmp_path / "feed.xml"
    path.write_text(FEED)
    return path


def titles(stdout: str) -> list[str]:
    return [json.loads(line)["title"] for line in stdout.splitlines()]


# The query '-opinion tiktok' wherever it stands; F is the feed file.
PLACEMENTS = [
    ["-opinion tiktok", "--file", "F", "-f", "jsonl"],  # first (issue 8: No such option: -o)
    ["--file", "F", "-opinion tiktok", "-f", "jsonl"],  # between options
    ["--file", "F", "-f", "jsonl", "-opinion tiktok"],  # last
    ["--", "-opinion tiktok", "--file", "F", "-f", "jsonl"],  # `--` first, options after it
    ["--file", "F", "--", "-opinion tiktok", "-f", "jsonl"],  # `--` in the middle
    ["-f", "jsonl", "--file", "F", "--", "-opinion tiktok"],  # `--` last (the classic form)
    ["--file=F", "-fjsonl", "-opinion tiktok"],  # --opt=value and -oVALUE forms still work
]


@pytest.mark.parametrize("args", PLACEMENTS)
def test_query_starting_with_minus_is_accepted_anywhere(
    args: list[str], feed_file: Path, tmp_path: Path
) -> None:
    argv = [a.replace("F", str(feed_file)) if a in ("F", "--file=F") else a for a in args]
    result = cli("test-rule", *argv, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert titles(result.stdout) == ["TikTok ban vote delayed"]


def test_a_single_negative_word_is_a_query_error_not_an_option_error(
    feed_file: Path, tmp_path: Path
) -> None:
    result = cli("test-rule", "-opinion", "--file", str(feed_file), cwd=tmp_path)
    assert result.returncode == 1
    assert "query column 1: the rule needs a positive term" in result.stderr


def test_a_mistyped_option_is_still_reported_by_name(feed_file: Path, tmp_path: Path) -> None:
    result = cli("test-rule", "tiktok", "--fille", str(feed_file), cwd=tmp_path)
    assert result.returncode == 2
    assert "No such option: --fille" in result.stderr and "--file" in result.stderr


@pytest.mark.parametrize(("query", "expected"), [
    ("/ban(s|ned)?/", ["TikTok ban vote delayed", "Weather"]),  # issue 8: was "unsafe regex"
    ("/[0-9]{4}/", ["Weather"]),  # no literal: evaluated on every article, still no warning
])
def test_regex_test_rule_prints_no_warning(
    query: str, expected: list[str], feed_file: Path, tmp_path: Path
) -> None:
    result = cli("test-rule", query, "--file", str(feed_file), "-f", "jsonl", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert titles(result.stdout) == expected
    assert "WARNING" not in result.stderr and "unindexed" not in result.stderr


def test_regex_refused_by_re2_shows_the_column_with_a_caret(
    feed_file: Path, tmp_path: Path
) -> None:
    result = cli("test-rule", r"tiktok AND /(\w{1,9}) \1/", "--file", str(feed_file),
                 cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith("query column 23: regex: backreferences")
    assert lines[2].index("^") == lines[1].index("\\1")


DAEMON_CONFIG = """\
database: sqlite:///state/monitor.db
poll: {interval: 1h, timeout: 2s}
feeds:
  - url: http://127.0.0.1:9/feed.xml
    name: Nowhere
rules:
  - name: years
    query: '/[0-9]{4}/'
  - name: bans
    query: '/ban(s|ned)?/'
"""


def test_the_daemon_says_once_at_start_which_rules_run_on_every_article(tmp_path: Path) -> None:
    config = tmp_path / "monitor.yaml"
    config.write_text(DAEMON_CONFIG)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "run", "-c", str(config)],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr or ()), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while not any("service.started" in x for x in lines) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        reader.join(timeout=10)
    warnings = [x for x in lines if "rules.unindexed" in x]
    assert len(warnings) == 1, lines
    assert "WARNING" in warnings[0] and "rules=years:" in warnings[0]
    assert "evaluated on every article" in warnings[0] and "bans" not in warnings[0]
