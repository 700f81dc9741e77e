"""Upkeep beside polling and delivery: retention (old rows deleted in small batches).

The daemon prunes every ``retention.every`` (a loop of its own, like polling and
delivery); ``news-monitor db prune`` does it by hand (``once`` does not: run the
command from cron beside it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from monitor.config import Settings
from monitor.store.retention import PruneReport, RetentionPolicy

log = logging.getLogger(__name__)


def retention_policy(settings: Settings) -> RetentionPolicy:
    """The ``retention:`` section as the store's policy."""
    r = settings.retention
    return RetentionPolicy(articles_s=r.articles_s, matches_s=r.matches_s, alerts_s=r.alerts_s,
                           batch=r.batch)


def prune(
    store: Any, settings: Settings, now: datetime, *, stop: Callable[[], bool] = lambda: False
) -> PruneReport | None:
    """Delete what the retention policy no longer keeps; None when it keeps everything."""
    policy = retention_policy(settings)
    if not policy.enabled:
        return None
    return store.prune(policy, now, stop=stop)  # type: ignore[no-any-return]
