"""What `check` learns from the loader in one pass: problems of every kind, recipient
URLs refused with their position, warnings, and quoting hints for YAML errors."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.config import load_settings
from monitor.config.load import inspect_config
from monitor.errors import ConfigError
from monitor.redact import clear_secrets, redact


@pytest.fixture(autouse=True)
def _no_registered_secrets() -> Iterator[None]:
    clear_secrets()
    yield
    clear_secrets()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "monitor.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def refuse_bad_scheme(url: str) -> str | None:
    """Stands in for apprise: only json:// and mailto:// with from= are usable."""
    if url.startswith("json://") or (url.startswith("mailto://") and "from=" in url):
        return None
    return "Invalid ~From~ email specified" if url.startswith("mailto://") else "Unparseable URL"


ALL_KINDS = """\
feeds:
  - url: https://example.com/feed.xml
    nmae: Example
recipients:
  chat: ["json://127.0.0.1:9/hook"]
  mail: ["mailto://127.0.0.1:18025?to=policy@example.org"]
  pager: nosuchservice://${PAGER_TOKEN}/x
rules:
  - name: r1
    query: 'China AND ('
    notify: [caht]
"""


def test_every_kind_of_problem_is_reported_in_one_pass(tmp_path: Path) -> None:
    report = inspect_config(write(tmp_path, ALL_KINDS), {"PAGER_TOKEN": "pg-t0ken-value"},
                            url_check=refuse_bad_scheme)
    assert report.settings is None
    problems = report.problems
    assert len(problems) == 5, problems
    assert problems[:3] == [
        "feeds[0].nmae: unknown key (line 3, column 5); did you mean 'name'?",
        ("recipients.mail[0]: apprise cannot use 'mailto://127.0.0.1:18025?to=policy@example.org':"
         " Invalid ~From~ email specified (line 6, column 10)"),
        ("recipients.pager: apprise cannot use 'nosuchservice://***/***': Unparseable URL"
         " (line 7, column 10)"),
    ]
    # The rule engine words the query error; the loader places it.
    assert problems[3].startswith("rules[0] 'r1': query column 12: ")
    assert "(line 10, column 12)" in problems[3]
    assert problems[4] == (
        "rules[0].notify[0]: unknown recipient 'caht' (line 11, column 14); did you mean 'chat'?")
    # Without a url_check (every command but `check`), apprise is not consulted.
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, ALL_KINDS), {"PAGER_TOKEN": "pg-t0ken-value"})
    assert not any("apprise" in p for p in info.value.problems)


def test_secrets_are_registered_before_any_message_is_written(tmp_path: Path) -> None:
    text = "recipients:\n  hook: ['json://bot:${HOOK_PASS}@127.0.0.1:9/x']\npoll: {interval: x}\n"
    report = inspect_config(write(tmp_path, text), {"HOOK_PASS": "pa55-w0rd"})
    assert report.problems and report.settings is None
    assert redact("bot said pa55-w0rd") == "bot said ***"
    # A webhook token in a recipient's path is registered too (it is not guessed at in
    # other URLs any more).
    hook = "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX"
    load_settings(write(tmp_path, f"recipients:\n  slack: ['{hook}']\n"), {})
    assert redact(f"post {hook}") == "post https://hooks.slack.com/services/T000/B000/***"


WARNINGS = [
    # YAML double quotes are not a phrase
    ('rules:\n  - {name: r, query: "TikTok ban"}\n',
     ("rules[0].query: YAML removes these double quotes, so \"TikTok ban\" means TikTok AND ban,"
      " not the phrase (line 2, column 22); for the phrase write query: '\"TikTok ban\"'"
      " (for AND, write query: TikTok AND ban)")),
    # a bare number is seconds: a feed's interval
    ("feeds:\n  - url: https://a.example/rss\n    interval: 15\n",
     ("feeds[0].interval: 15 is 15 seconds (a bare number is seconds) (line 3, column 15);"
      " write 15s to keep it, or 15m for minutes")),
    # ... and poll.interval, even quoted
    ("poll:\n  interval: '30'\n",
     ("poll.interval: 30 is 30 seconds (a bare number is seconds) (line 2, column 13);"
      " write 30s to keep it, or 30m for minutes")),
]


@pytest.mark.parametrize(("text", "expected"), WARNINGS, ids=["phrase", "feed", "poll"])
def test_warnings_say_what_was_probably_meant(tmp_path: Path, text: str, expected: str) -> None:
    report = inspect_config(write(tmp_path, text), {})
    assert report.problems == [] and report.settings is not None
    assert report.warnings == [expected]
    assert report.settings.warnings == (expected,)


@pytest.mark.parametrize("text", [
    # a phrase written for the query language, inside YAML quotes
    "rules:\n  - {name: r, query: '\"TikTok ban\"'}\n",
    # no YAML quotes: plainly two terms
    "rules:\n  - {name: r, query: TikTok ban}\n",
    # double quotes around a real boolean query, or one word
    'rules:\n  - {name: r, query: "TikTok AND ban"}\n',
    'rules:\n  - {name: r, query: "TikTok"}\n',
    # durations with a unit
    "poll: {interval: 15m, min_interval: 60s}\nfeeds:\n  - {url: 'https://a.example/x', interval: 2h}\n",
])
def test_no_warning_when_the_meaning_is_plain(tmp_path: Path, text: str) -> None:
    report = inspect_config(write(tmp_path, text), {})
    assert report.settings is not None and report.warnings == []


@pytest.mark.parametrize(("text", "expected"), [
    # block style: '@' cannot start a YAML value
    ("rules:\n  - name: r\n    query: @Zoom AND China\n",
     ("invalid YAML: found character '@' that cannot start any token (line 3, column 12);"
      " quote the query: query: '@Zoom AND China'")),
    # flow style, and a quote that ends the YAML string too soon
    ('rules:\n  - {name: r, query: "TikTok" OR ban}\n',
     "quote the query: query: '\"TikTok\" OR ban'"),
    # another key: the hint names the value
    ("feeds:\n  - name: @home\n    url: https://a.example/x\n",
     "quote the value: name: '@home'"),
])
def test_yaml_errors_hint_at_quoting(tmp_path: Path, text: str, expected: str) -> None:
    report = inspect_config(write(tmp_path, text), {})
    assert len(report.problems) == 1 and expected in report.problems[0], report.problems
