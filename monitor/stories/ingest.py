"""What the ingest path asks of this package, before matching and storing (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

from monitor.article import Article
from monitor.stories.assign import Prepared, prepare
from monitor.stories.language import detect_language
from monitor.stories.spike import SpikeSettings
from monitor.stories.text import StoryText, feed_boilerplate


def with_languages(articles: Sequence[Article], declared: str | None) -> list[Article]:
    """The articles with their detected language (``declared``: the feed's, trusted
    only when the text agrees)."""
    return [
        replace(a, language=detect_language(f"{a.title}\n{a.summary or a.content}", declared))
        for a in articles
    ]


def prepare_articles(
    articles: Sequence[Article], declared: str | None, stories: bool,
    seen: Sequence[Article] = (),
) -> tuple[list[Article], list[Prepared]]:
    """The articles with their language and, with ``stories``, what placing each in a
    story needs of its text alone (``Prepared``). Pure and picklable both ways: the
    poll runs it in its parse process when it has one, so this work (about half of
    what stories cost an ingest) leaves the storing process.

    ``seen``: the other items of the feed document they came from (stored before).
    Words that many of the document's items carry are the feed's boilerplate, and
    story grouping leaves them out (``feed_boilerplate``): the items of a templated
    feed would otherwise be one story by their template alone."""
    articles = with_languages(articles, declared)
    if not stories:
        return articles, []
    texts = {a.key: story_text(a) for a in articles}
    boilerplate = feed_boilerplate([*texts.values(),
                                    *(story_text(a) for a in seen if a.key not in texts)])
    return articles, [prepare(texts[a.key].without(boilerplate)) for a in articles]


def spike_settings(spike: Any) -> SpikeSettings:
    """A rule's ``spike:`` config (``SpikeRuleSettings``) as the detector's settings."""
    return SpikeSettings(window=timedelta(seconds=spike.window_s),
                         baseline=timedelta(seconds=spike.baseline_s),
                         factor=spike.factor, min_stories=spike.min_stories)


def story_text(article: Article) -> StoryText:
    """What story grouping reads of an article: title, lede and language."""
    return StoryText.of(article.title, article.summary or article.content, article.language)
