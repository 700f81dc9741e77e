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
