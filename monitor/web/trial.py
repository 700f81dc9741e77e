"""Try a query against stored articles: the engine of ``test-rule --stored``, for the web."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from monitor.article import Article, Match, RuleSpec
from monitor.errors import ConfigError, QueryError
from monitor.rules.compile import compile_query, compile_rules
from monitor.store.repo import Store

#: Matches listed at most (the count goes on).
MAX_SHOWN = 50
#: Articles scanned at most, so a keystroke in the box stays cheap.
MAX_SCANNED = 20_000


@dataclass(frozen=True)
class TrialResult:
    """What a query would match among the stored articles, and why."""

    query: str
    scanned: int
    matched: int
    #: The first MAX_SHOWN matches (newest articles first is not promised: oldest scanned).
    shown: tuple[tuple[Article, Match], ...]
    #: True when MAX_SCANNED stopped the scan early.
    truncated: bool


def try_query(store: Store, query: str, entities: dict[str, list[str]],
              since: datetime) -> TrialResult:
    """Match ``query`` against articles fetched since ``since``; raises QueryError
    (with its column) for a query that does not parse or compile."""
    compile_query(query, entities)  # the precise error and column, if any
    try:
        ruleset = compile_rules([RuleSpec(name="try", query=query)], entities)
    except QueryError:
        raise
    except ConfigError as e:
        raise QueryError("; ".join(e.problems)) from None
    scanned = matched = 0
    shown: list[tuple[Article, Match]] = []
    for article in store.stored_articles(since=since):
        scanned += 1
        for m in ruleset.match(article):
            matched += 1
            if len(shown) < MAX_SHOWN:
                shown.append((article, m))
        if scanned >= MAX_SCANNED:
            break
    return TrialResult(query, scanned, matched, tuple(shown), scanned >= MAX_SCANNED)
