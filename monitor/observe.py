"""What the daemon reports as it works, for whoever watches (metrics, readiness).

``Monitor`` calls an ``Observer`` at a few points; the default one does nothing,
so the pipeline needs no metrics library. ``monitor.web.metrics`` implements it
with prometheus-client counters.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime


class Observer:
    """Hooks called by the daemon; each must be cheap and must never raise."""

    def poll_ticked(self, when: datetime) -> None:
        """A poll tick started (readiness: the scheduler is alive)."""

    def feed_polled(
        self, result: str, duration_s: float, new_articles: int, rules: Sequence[str]
    ) -> None:
        """One feed was polled: ``result`` is ``ok``, ``not_modified`` or ``error``;
        ``rules`` names the rule of each match found in its new articles."""

    def feed_pushed(self, new_articles: int, rules: Sequence[str]) -> None:
        """A WebSub hub pushed content for one feed and it was ingested (as a poll's
        is, without the fetch); ``rules`` as in ``feed_polled``."""

    def alerts_done(self, sent: int, failed: int, dead: int) -> None:
        """A delivery pass finished."""
