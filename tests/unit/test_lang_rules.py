"""`lang:` in queries and `languages:` on rules (the matcher, pure)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from monitor.article import Article, FeedSpec, RuleSpec
from monitor.config import load_settings
from monitor.errors import ConfigError, QueryError
from monitor.feeds.parse import parse_feed
from monitor.rules.compile import compile_rules
from monitor.rules.query import parse as parse_query
from monitor.stories.ingest import with_languages

BASE = Article("https://f.test/rss", "F", (), "k", None, None, None,
               title="TikTok ban debated", summary="Lawmakers weigh a ban.")


@pytest.mark.parametrize(
    ("spec", "language", "matches"),
    [
        # lang: field, the article's detected code
        (RuleSpec("r", "lang:de AND tiktok"), "de", True),
        (RuleSpec("r", "lang:de AND tiktok"), "en", False),
        (RuleSpec("r", "tiktok AND NOT lang:en"), "en", False),
        # lang: matches a known language only; unknown is not en (nor anything else)
        (RuleSpec("r", "lang:en AND tiktok"), None, False),
        (RuleSpec("r", "tiktok AND NOT lang:fr"), None, True),
        # languages: scope; an unknown language is inside (it may well be English:
        # leaving out foreign press must not drop what could not be told)
        (RuleSpec("r", "tiktok", languages=("en", "de")), "de", True),
        (RuleSpec("r", "tiktok", languages=("en", "de")), "fr", False),
        (RuleSpec("r", "tiktok", languages=("en",)), None, True),
        # no scope: any language, also unknown
        (RuleSpec("r", "tiktok"), None, True),
    ],
)
def test_language_in_rules(spec: RuleSpec, language: str | None, matches: bool) -> None:
    rules = compile_rules([spec], {})
    assert bool(rules.match(replace(BASE, language=language))) is matches


@pytest.mark.parametrize(("specs", "needs"), [
    ([RuleSpec("r", "tiktok")], False),  # no rule reads the language: no detection cost
    ([RuleSpec("r", "tiktok", languages=("en",))], True),
    ([RuleSpec("a", "tiktok"), RuleSpec("b", "ban AND NOT lang:fr")], True),
])
def test_rule_sets_say_whether_ingest_must_detect_the_language(
    specs: list[RuleSpec], needs: bool
) -> None:
    assert compile_rules(specs, {}).needs_language is needs


def test_short_headlines_of_a_real_feed_are_not_dropped_by_a_language_scope(
    shared_data: Path,
) -> None:
    """USGS earthquake entries ("M 1.9 - 79km WSW of Cantwell, Alaska") say too little
    for a detector: their language is unknown, not Luxembourgish or Latin, so a rule
    scoped to English still sees every one of them; `lang:en` sees none."""
    body = (shared_data / "feeds/realworld/rometools_rome/"
            "usgs-gov-earthquakes-all-hour-atom.xml").read_bytes()
    parsed = parse_feed(body, {}, FeedSpec(url="https://usgs.test/all_hour.atom", name="USGS"))
    articles = with_languages(parsed.articles, parsed.language)
    assert len(articles) == 6 and parsed.language is None
    assert [a.language for a in articles] == [None] * 6
    scoped = compile_rules([RuleSpec("quakes", "M", languages=("en",))], {})
    assert all(scoped.match(a) for a in articles)
    asked = compile_rules([RuleSpec("quakes", "lang:en AND M")], {})
    assert not any(asked.match(a) for a in articles)
    # The same entries in a feed that declares English are English.
    assert {a.language for a in with_languages(parsed.articles, "en-US")} == {"en"}


@pytest.mark.parametrize(("query", "column", "message"), [
    # a region: feeds declare en-US, detection gives en; the rule would match nothing
    ("lang:en-US AND tiktok", 6, "'en-US': an article's language has no region; write 'en'"),
    ("tiktok lang:(fr OR de_DE)", 20, "'de_DE': an article's language has no region; write 'de'"),
    # a name, or an ISO 639-2 code, instead of ISO 639-1
    ("lang:english tiktok", 6, "'english' is not a language code"),
    ("tiktok AND NOT lang:deu", 21, "'deu' is not a language code"),
])
def test_lang_takes_only_codes_an_article_can_have(query: str, column: int,
                                                   message: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(query)
    assert caught.value.column == column and message in str(caught.value)


@pytest.mark.parametrize("query", ["lang:EN tiktok", "lang:(en OR de) AND NOT lang:fr tiktok"])
def test_lang_codes_in_any_case_are_accepted(query: str) -> None:
    assert parse_query(query) is not None


@pytest.mark.parametrize(("languages", "message"), [
    (["en", "en-US"], "rules[0].languages: 'en-US': an article's language has no region; "
                      "write 'en'"),
    (["English"], "rules[0].languages: 'English' is not a language code"),
])
def test_config_refuses_languages_no_article_has(tmp_path: Path, languages: list[str],
                                                  message: str) -> None:
    config = tmp_path / "monitor.yaml"
    config.write_text(yaml.safe_dump({
        "feeds": [{"url": "https://f.test/rss"}],
        "rules": [{"name": "r", "query": "tiktok", "languages": languages, "notify": []}]}))
    with pytest.raises(ConfigError) as caught:
        load_settings(config, env={})
    assert message in str(caught.value)


def test_config_takes_language_codes_in_any_case(tmp_path: Path) -> None:
    config = tmp_path / "monitor.yaml"
    config.write_text(yaml.safe_dump({
        "feeds": [{"url": "https://f.test/rss"}],
        "rules": [{"name": "r", "query": "tiktok", "languages": ["EN", "de"], "notify": []}]}))
    (rule,) = load_settings(config, env={}).rules
    assert rule.spec().languages == ("en", "de")
