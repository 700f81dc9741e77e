"""`lang:` in queries and `languages:` on rules (the matcher, pure)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from monitor.article import Article, RuleSpec
from monitor.rules.compile import compile_rules

BASE = Article("https://f.test/rss", "F", (), "k", None, None, None,
               title="TikTok ban debated", summary="Lawmakers weigh a ban.")


@pytest.mark.parametrize(
    ("spec", "language", "matches"),
    [
        # lang: field, the article's detected code
        (RuleSpec("r", "lang:de AND tiktok"), "de", True),
        (RuleSpec("r", "lang:de AND tiktok"), "en", False),
        (RuleSpec("r", "tiktok AND NOT lang:en"), "en", False),
        # languages: scope; unknown language is outside a scoped rule
        (RuleSpec("r", "tiktok", languages=("en", "de")), "de", True),
        (RuleSpec("r", "tiktok", languages=("en", "de")), "fr", False),
        (RuleSpec("r", "tiktok", languages=("en",)), None, False),
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
