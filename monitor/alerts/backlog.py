"""No backlog flood (pure): which items of a feed's first poll are old news.

When a feed is added, its document carries weeks or years of items. They are all
stored and matched (``matches`` and back-tests see them), but only those dated
within ``poll.backlog`` of the poll are alerted; the rest are recorded silently
and ``rules apply --rule R --alert`` can still queue them. Later polls alert
every new item whatever its date: an item a feed publishes late is still news.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from monitor.article import Article


def backlog_keys(
    articles: Iterable[Article], *, first_poll: bool, now: datetime, backlog_s: int,
    forgotten_s: int | None = None,
) -> set[str]:
    """The keys of ``articles`` not to alert: on a first poll, those dated (published,
    else updated) before ``now - backlog_s``. Items without a date count as new.

    On any poll, an item dated before ``now - forgotten_s`` (``retention.articles``)
    is not alerted either: retention may have deleted it while its feed still lists
    it (a quiet feed keeps old items for months), so it looks unseen again.
    """
    cutoffs = []
    if first_poll:  # backlog 0: every dated item of the first poll is old news
        cutoffs.append(now - timedelta(seconds=backlog_s))
    if forgotten_s:  # None or 0: retention keeps articles for ever
        cutoffs.append(now - timedelta(seconds=forgotten_s))
    if not cutoffs:
        return set()
    cutoff = max(cutoffs)
    return {a.key for a in articles if _older(a, cutoff)}


def _older(article: Article, cutoff: datetime) -> bool:
    when = article.date
    return when is not None and when < cutoff
