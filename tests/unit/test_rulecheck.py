"""The record of rule sets that compile: a start skips compiling rules known valid,
and anything that could change the verdict (or a secret in the rules) bypasses it."""

from __future__ import annotations

import json
import textwrap
import threading
from pathlib import Path

import pytest

import monitor
from monitor.article import Article, RuleSpec
from monitor.config import load_settings, rulecheck
from monitor.errors import ConfigError
from monitor.rules import compile as rules_compile
from monitor.rules.compile import RuleSet, compile_rules

CONFIG = """\
recipients:
  hook: ["json://127.0.0.1:9/hook"]
entities:
  Zoom: {aliases: ["Zoom", "Zoom Video"]}
rules:
  - {name: zoom, query: '@Zoom AND China', notify: [hook]}
  - {name: ban, query: 'TikTok NEAR/3 ban*', notify: [hook]}
"""


@pytest.fixture
def record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "news-monitor" / "valid-rules.json"


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per compile_rules call that really compiled."""
    calls: list[int] = []
    inner = rules_compile._compile_rules

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return inner(*args, **kwargs)

    monkeypatch.setattr(rules_compile, "_compile_rules", counted)
    monkeypatch.setattr(rules_compile, "_last", None)
    return calls


def load(tmp_path: Path, text: str = CONFIG, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    path = tmp_path / "monitor.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    rules_compile._last = None  # as in a new process
    return load_settings(path, env or {})


def test_a_second_load_of_the_same_rules_does_not_compile_them(tmp_path, record, compiles):
    load(tmp_path)
    assert len(compiles) == 1 and record.exists()
    settings = load(tmp_path)
    assert len(compiles) == 1
    # The run's RuleSet compiles on first use, and matches as a compiled one does.
    rules = rulecheck.rules_for_run(settings.rule_specs(), settings.entity_aliases())
    assert len(compiles) == 1
    article = Article(feed_url="https://wire.test/rss", feed_name="Wire", feed_tags=(),
                      key="k", guid=None, link="https://wire.test/1", canonical_url=None,
                      title="Zoom Video exits China")
    assert [m.rule for m in rules.match(article)] == ["zoom"]
    assert len(compiles) == 2
    assert rules.rule_names == ("zoom", "ban")


def test_a_new_query_is_compiled_and_a_bad_one_reported_at_its_position(tmp_path, record,
                                                                        compiles):
    load(tmp_path)
    load(tmp_path, CONFIG.replace("TikTok NEAR/3 ban*", "TikTok OR WeChat"))
    assert len(compiles) == 2
    with pytest.raises(ConfigError) as e:
        load(tmp_path, CONFIG.replace("TikTok NEAR/3 ban*", "TikTok AND (ban"))
    assert any("rules[1]" in p and "line 7" in p for p in e.value.problems), e.value.problems


def test_the_digest_covers_everything_the_verdict_depends_on(monkeypatch):
    rules = [RuleSpec("zoom", "@Zoom AND China")]
    entities = {"Zoom": ["Zoom"]}
    base = rulecheck.rules_digest(rules, entities)
    assert rulecheck.rules_digest(list(rules), dict(entities)) == base
    assert rulecheck.rules_digest([RuleSpec("zoom", "@Zoom AND Chin")], entities) != base
    assert rulecheck.rules_digest([RuleSpec("zoom", "@Zoom AND China", feeds=("x",))],
                                  entities) != base
    assert rulecheck.rules_digest(rules, {"Zoom": ["Zoom", "ZM"]}) != base
    monkeypatch.setattr(monitor, "__version__", "99.0")
    assert rulecheck.rules_digest(rules, entities) != base
    monkeypatch.undo()
    stamps = rulecheck._compiler_files()
    assert any(s.startswith("compile.py:") for s in stamps)  # the compiler's own files
    monkeypatch.setattr(rulecheck, "_compiler_files", lambda: [*stamps[:-1], "query.py:1:2"])
    assert rulecheck.rules_digest(rules, entities) != base


def test_rules_holding_a_secret_are_never_recorded(tmp_path, record, compiles):
    secret = "Kx9-unguessable"
    text = CONFIG.replace("'@Zoom AND China'", "'@Zoom AND ${WATCHWORD}'")
    load(tmp_path, text, {"WATCHWORD": secret})
    load(tmp_path, text, {"WATCHWORD": secret})
    assert len(compiles) == 2  # compiled each time: no verdict kept for them
    assert not record.exists() or secret not in record.read_text()
    load(tmp_path)
    assert secret not in record.read_text()
    assert list(json.loads(record.read_text())) == ["valid"]


@pytest.mark.parametrize("content", ["not json", '{"valid": 3}', "[]", '{"valid": [1, null]}'])
def test_a_corrupt_record_is_only_a_compile(tmp_path, record, compiles, content):
    record.parent.mkdir(parents=True)
    record.write_text(content)
    load(tmp_path)
    assert len(compiles) == 1
    load(tmp_path)
    assert len(compiles) == 1  # rewritten whole by the first load


def test_an_unwritable_cache_is_only_a_compile(tmp_path, monkeypatch, compiles):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))  # a file: nothing can go below it
    load(tmp_path)
    load(tmp_path)
    assert len(compiles) == 2


def test_a_deferred_rule_set_compiles_once_for_many_threads():
    builds: list[int] = []

    def build() -> RuleSet:
        builds.append(1)
        return compile_rules([RuleSpec("zoom", "Zoom")], {})

    rules = RuleSet.deferred(build)
    names: list[tuple[str, ...]] = []
    threads = [threading.Thread(target=lambda: names.append(rules.rule_names))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert builds == [1] and names == [("zoom",)] * 8
