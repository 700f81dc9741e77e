"""Apply the config's rules to articles already stored: ``news-monitor rules apply``
and the dashboard's "apply rules" action.

New matches are recorded (a rule added today finds last week's articles); with
``alert``, every match of the scanned articles that never had an alert (new, a feed's
backlog beyond ``poll.backlog``, or recorded by an earlier apply) is queued for its
rule's recipients, once, and the next delivery pass sends it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from monitor.errors import ConfigError

if TYPE_CHECKING:
    from monitor.article import Match
    from monitor.config import Settings
    from monitor.store.repo import Store

#: Articles' matches recorded per transaction.
BATCH = 200


@dataclass(frozen=True)
class ApplyResult:
    """What applying rules to stored articles did."""

    scanned: int
    new_matches: int
    new_alerts: int


def apply_rules(store: Store, settings: Settings, *, since: datetime | None,
                clock: Callable[[], datetime], rules: Sequence[str] = (),
                alert: bool = False) -> ApplyResult:
    """Match the named rules (none named: every rule) against the articles fetched
    since ``since`` and record what they match. Raises ConfigError for a rule name
    the config does not have."""
    from monitor.alerts.notifier import Notifier
    from monitor.rules.compile import compile_rules

    specs = [s for s in settings.rule_specs() if not rules or s.name in rules]
    unknown = set(rules) - {s.name for s in specs}
    if unknown:
        raise ConfigError(f"unknown rule(s): {', '.join(sorted(unknown))}")
    ruleset = compile_rules(specs, settings.entity_aliases())
    routes: dict[str, Any] = {}
    # With stories, a rule alerting per story alerts each story once, as at ingest.
    per_story = ({r.name for r in settings.rules if r.alert_per == "story"}
                 if settings.stories.enabled else set())
    if alert:
        notifier = Notifier(settings.recipients)
        # A spike rule alerts per episode as stories arrive, never per stored match.
        routes = {r.name: notifier.routes_for(settings.rule_notify(r)) for r in settings.rules
                  if r.spike is None}
    scanned = new_matches = new_alerts = 0
    batch: list[tuple[int, list[Match]]] = []
    for article_id, article in store.stored_articles_with_ids(since=since):
        scanned += 1
        matches = ruleset.match(article)
        if matches:
            batch.append((article_id, matches))
        if len(batch) >= BATCH:
            m, a = store.add_matches(batch, routes, clock(), per_story=per_story)
            new_matches, new_alerts, batch = new_matches + m, new_alerts + a, []
    if batch:
        m, a = store.add_matches(batch, routes, clock(), per_story=per_story)
        new_matches, new_alerts = new_matches + m, new_alerts + a
    return ApplyResult(scanned, new_matches, new_alerts)
