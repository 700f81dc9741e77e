"""What to send when, decided from the config (pure): retries, rule policies, templates.

    RetryPolicy / next_retry_at   exponential backoff with jitter, then dead
    rule_policy(rule)             digest mode, schedule, quiet hours, max_per_hour
    RuleDelivery                  every rule's policy and template, and rendering with them
"""

from __future__ import annotations

import functools
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from monitor.alerts.digest import (
    DEFAULT_EVERY_S,
    IMMEDIATE,
    DigestToSend,
    QuietHours,
    RulePolicy,
    Schedule,
)
from monitor.alerts.render import (
    RenderedAlert,
    alert_context,
    digest_context,
    render_alert,
    render_digest,
)
from monitor.alerts.templates import RuleTemplate
from monitor.article import AlertToSend

if TYPE_CHECKING:
    from monitor.config.models import RuleSettings, Settings


@dataclass(frozen=True)
class RetryPolicy:
    """How failed alerts are retried: exponential backoff with jitter, then dead."""

    base_s: float = 30.0
    cap_s: float = 3600.0
    max_attempts: int = 10
    #: An alert still failing this long after it was created is dead (None: no age limit).
    max_age_s: float | None = None

    def retry_at(
        self, attempts: int, created_at: datetime, now: datetime, rng: random.Random | None
    ) -> datetime | None:
        """When to retry after ``attempts`` failures, or None (dead: too many or too old)."""
        retry = next_retry_at(attempts, now, base_s=self.base_s, cap_s=self.cap_s,
                              max_attempts=self.max_attempts, rng=rng)
        too_old = self.max_age_s is not None and (
            retry is not None and retry - created_at > timedelta(seconds=self.max_age_s))
        return None if too_old else retry


def next_retry_at(
    attempts: int,
    now: datetime,
    *,
    base_s: float = 30,
    cap_s: float = 3600,
    max_attempts: int = 10,
    rng: random.Random | None = None,
) -> datetime | None:
    """When to retry after ``attempts`` failed attempts, or None to give up (dead).

    The delay doubles from ``base_s`` (first retry after ~base_s) up to
    ``cap_s``, times a jitter factor in [0.8, 1.2] so that alerts failing
    together do not retry in lockstep; it never exceeds ``cap_s``.
    """
    if attempts >= max_attempts:
        return None
    exponent = max(attempts - 1, 0)
    delay = base_s * 2.0 ** min(exponent, 64)
    jitter = (rng or random).uniform(0.8, 1.2)
    return now + timedelta(seconds=min(cap_s, delay * jitter))


def rule_policy(rule: RuleSettings) -> RulePolicy:
    """A rule's delivery policy from its settings (default digest schedule: every hour)."""
    d = rule.digest
    if d is None:
        schedule = _default_schedule()
    elif d.cron is not None:
        schedule = Schedule.cron(d.cron, d.timezone)
    else:
        schedule = Schedule.every(d.every_s or DEFAULT_EVERY_S, d.timezone)
    q = rule.quiet_hours
    quiet = QuietHours.parse(q.start, q.end, q.timezone) if q is not None else None
    return RulePolicy(mode=rule.mode, schedule=schedule, max_per_hour=rule.max_per_hour,
                      quiet=quiet)


@functools.cache
def _default_schedule() -> Schedule:
    """The hourly digest schedule of every rule without ``digest:``, made once: a
    schedule is immutable, and 1,000 rules made 1,000 of them at every start."""
    return Schedule.every(DEFAULT_EVERY_S)


def retry_policy(settings: Settings) -> RetryPolicy:
    """The retry schedule of the ``delivery:`` section."""
    d = settings.delivery
    return RetryPolicy(base_s=d.retry_base_s, cap_s=d.retry_cap_s, max_attempts=d.max_attempts,
                       max_age_s=d.max_age_s)


@dataclass(frozen=True)
class RuleDelivery:
    """Per-rule delivery settings: policies (digest, quiet hours, rate) and templates."""

    policies: Mapping[str, RulePolicy] = field(default_factory=dict)
    templates: Mapping[str, RuleTemplate] = field(default_factory=dict)
    #: Matches listed in one digest message (the rest are counted).
    digest_max_items: int = 20

    @classmethod
    def from_settings(cls, settings: Settings) -> RuleDelivery:
        """The rules' policies and compiled templates (settings are already validated)."""
        policies = {r.name: rule_policy(r) for r in settings.rules}
        templates = {
            r.name: RuleTemplate.compile(r.name, r.template.model_dump())
            for r in settings.rules if r.template is not None
        }
        return cls(policies, templates, settings.delivery.digest_max_items)

    def policy(self, rule: str) -> RulePolicy:
        return self.policies.get(rule, IMMEDIATE)

    def render_alert(self, alert: AlertToSend) -> RenderedAlert:
        default = render_alert(alert)
        template = self.templates.get(alert.rule)
        return template.render(alert_context(alert), default) if template else default

    def render_digest(self, digest: DigestToSend) -> RenderedAlert:
        default = render_digest(digest)
        template = self.templates.get(digest.rule)
        return template.render(digest_context(digest), default) if template else default
