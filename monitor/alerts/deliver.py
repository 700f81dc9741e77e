"""Deliver alerts through apprise, one target URL at a time, with retries.

apprise's ``notify()`` gives one verdict for all the services it was handed,
so a partial failure would resend to the targets that already succeeded. The
:class:`Notifier` therefore keeps one ``Apprise`` object per target URL, and
every outbox row names one target (a :class:`~monitor.article.Route`).

Deciding and doing are split: :func:`next_retry_at` is a pure schedule,
:func:`~monitor.alerts.render.render_alert` is pure rendering, and
:func:`deliver_due` is the thin loop that claims rows, sends and records.
"""

from __future__ import annotations

import hashlib
import logging
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Callable, Mapping, Protocol, Sequence, runtime_checkable
from urllib.parse import parse_qsl, unquote, urlsplit

import apprise

from monitor.alerts import console as _console  # noqa: F401  (registers console://)
from monitor.alerts.digest import (
    DEFAULT_EVERY_S,
    IMMEDIATE,
    DigestToSend,
    QuietHours,
    RulePolicy,
    Schedule,
    due_window,
    hold_reason,
)
from monitor.alerts.render import (
    RenderedAlert,
    alert_context,
    digest_context,
    render_alert,
    render_digest,
)
from monitor.alerts.templates import RuleTemplate
from monitor.article import AlertToSend, Route
from monitor.errors import ConfigError, DeliveryError
from monitor.redact import ADDRESS_SCHEMES, SECRET_KEY_WORDS, redact, register_secrets

if TYPE_CHECKING:
    from monitor.config.models import RuleSettings, Settings

log = logging.getLogger(__name__)

#: Longest error text kept on an alert row.
MAX_ERROR_LEN = 1000
_PROBLEM_LEVELS = ("WARNING", "ERROR", "CRITICAL")


def target_key(url: str) -> str:
    """A stable, short, secret-free key for a target URL (16 hex digits of SHA-256)."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


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
        if retry is not None and self.max_age_s is not None:
            if retry - created_at > timedelta(seconds=self.max_age_s):
                return None
        return retry


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


@dataclass
class _Target:
    recipient: str
    index: int
    url: str
    key: str
    #: None when apprise cannot use the URL; sending then fails with the reason.
    apobj: apprise.Apprise | None

    @property
    def label(self) -> str:
        return f"recipients.{self.recipient}[{self.index}]"


class Notifier:
    """The configured recipients, as one apprise object per target URL.

    apprise throttles consecutive sends through one plugin object (5.5 s for
    email, 1.2 s for Slack) by sleeping, which would stall the whole delivery
    loop behind one busy target. By default each send therefore uses a fresh
    apprise object (parsing a URL costs well under a millisecond), and a
    provider that rate-limits us answers with an error the retry schedule
    absorbs. ``throttle=True`` keeps apprise's pacing instead.
    """

    def __init__(self, recipients: Mapping[str, Sequence[str]], *, throttle: bool = False) -> None:
        self._throttle = throttle
        self._by_recipient: dict[str, list[_Target]] = {}
        self._targets: dict[tuple[str, str], _Target] = {}
        for name, urls in recipients.items():
            targets = self._by_recipient.setdefault(name, [])
            for index, url in enumerate(urls):
                register_secrets(url_secrets(url))
                apobj = apprise.Apprise()
                usable = apobj.add(url)
                target = _Target(name, index, url, target_key(url), apobj if usable else None)
                targets.append(target)
                self._targets.setdefault((name, target.key), target)

    def problems(self) -> list[str]:
        """One line per URL apprise cannot parse, with the URL redacted."""
        return [
            f"{t.label}: apprise cannot use '{redact(t.url)}'"
            for targets in self._by_recipient.values()
            for t in targets
            if t.apobj is None
        ]

    def routes_for(self, recipient_names: Sequence[str]) -> tuple[Route, ...]:
        """One Route per target URL of the named recipients (duplicates removed)."""
        routes: dict[Route, None] = {}
        for name in recipient_names:
            if name not in self._by_recipient:
                raise ConfigError(f"unknown recipient '{name}'")
            for t in self._by_recipient[name]:
                routes[Route(recipient=name, target_key=t.key)] = None
        return tuple(routes)

    def format_for(self, route: Route) -> str:
        """The body format this route's target wants: "html", "markdown" or "text"."""
        target = self._target(route)
        if target.apobj is None or len(target.apobj) == 0:
            return "text"
        return plugin_format(target.apobj[0])

    def send_rendered(self, route: Route, rendered: RenderedAlert) -> None:
        """Send a rendered alert in the format the route's target wants."""
        fmt = self.format_for(route)
        self.send(route, rendered.title, rendered.body_for(fmt), fmt)

    def send(self, route: Route, title: str, body: str, body_format: str = "text") -> None:
        """Send one message to one target; raise DeliveryError (redacted reason) on failure."""
        target = self._target(route)
        if target.apobj is None:
            raise DeliveryError(f"{target.label}: apprise cannot use '{redact(target.url)}'")
        apobj = target.apobj if self._throttle else _fresh_apprise(target.url)
        with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:
            try:
                result = apobj.notify(body=body, title=title, body_format=body_format)
            except Exception as e:  # apprise should not raise; never let one target stop the loop
                raise DeliveryError(redact(f"{target.label}: {type(e).__name__}: {e}")) from None
            text = captured.getvalue()
        if not result:
            reason = _failure_reason(result, text)
            raise DeliveryError(redact(f"{target.label}: {reason}")[:MAX_ERROR_LEN])

    def _target(self, route: Route) -> _Target:
        target = self._targets.get((route.recipient, route.target_key))
        if target is None:
            raise DeliveryError(
                f"target {route.target_key} of recipient '{route.recipient}' "
                "is no longer configured"
            )
        return target


def _fresh_apprise(url: str) -> apprise.Apprise:
    apobj = apprise.Apprise()
    apobj.add(url)  # parsed once already in Notifier.__init__, so it is usable
    return apobj


def plugin_format(plugin: Any) -> str:
    """The format to render for one apprise plugin instance.

    A ``?format=`` in the URL wins. A plugin that accepts every format is a
    pass-through (webhook, console): its default, text. One that accepts
    Markdown is a chat: Markdown. Otherwise its native format (email: HTML).
    """
    override = getattr(plugin, "_format_override", None)
    if override:
        return _format_name(override)
    formats = getattr(plugin, "notify_format", "text")
    if isinstance(formats, str):  # older apprise, or a single-format plugin
        return _format_name(formats)
    names = [_format_name(f) for f in formats]
    if not names:
        return "text"
    if {"text", "html", "markdown"} <= set(names):
        return names[0]
    return "markdown" if "markdown" in names else names[0]


def _format_name(fmt: Any) -> str:
    return str(getattr(fmt, "value", fmt)).lower()


def _failure_reason(result: Any, captured: str) -> str:
    """The warning lines apprise logged for a failed send."""
    lines: list[str] = []
    try:  # apprise >= 2 keeps the log lines of each service call on the result
        for service in result:
            lines += [e.message for e in service.logs() if e.level in _PROBLEM_LEVELS]
    except TypeError:  # apprise 1.x returns a bool
        pass
    if not lines:
        lines = [line for line in captured.splitlines() if line.strip()]
    status = getattr(getattr(result, "status", None), "name", None)
    reason = "; ".join(dict.fromkeys(lines)) or "apprise reported a failure without a reason"
    return f"{reason} ({status})" if status and status != "FAILURE" else reason


def url_secrets(url: str) -> list[str]:
    """The credential parts of a target URL, to register for redaction."""
    try:
        parts = urlsplit(url)
        found = [parts.password or ""]
        query = parse_qsl(parts.query)
        found += [v for k, v in query if any(w in k.lower() for w in SECRET_KEY_WORDS)]
        if parts.scheme.lower() not in ADDRESS_SCHEMES:
            # Token URLs (slack://T/B/C): long host/path segments are the credentials.
            host = parts.netloc.rpartition("@")[2]
            found += [s for s in [host, *parts.path.split("/")] if len(s) >= 8]
    except ValueError:
        return []
    return [s for s in {*found, *(unquote(s) for s in found)} if s]


@dataclass
class DeliveryReport:
    """What one delivery pass did."""

    #: Alerts delivered.
    sent: int = 0
    #: Alerts that failed and are scheduled for a retry.
    failed: int = 0
    #: Alerts that failed for the last time (status dead, last error kept).
    dead: int = 0
    #: Alerts kept for a digest (digest mode, quiet hours, over max_per_hour).
    held: int = 0


def rule_policy(rule: RuleSettings) -> RulePolicy:
    """A rule's delivery policy from its settings (default digest schedule: every hour)."""
    d = rule.digest
    if d is None:
        schedule = Schedule.every(DEFAULT_EVERY_S)
    elif d.cron is not None:
        schedule = Schedule.cron(d.cron, d.timezone)
    else:
        schedule = Schedule.every(d.every_s or DEFAULT_EVERY_S, d.timezone)
    q = rule.quiet_hours
    quiet = QuietHours.parse(q.start, q.end, q.timezone) if q is not None else None
    return RulePolicy(mode=rule.mode, schedule=schedule, max_per_hour=rule.max_per_hour,
                      quiet=quiet)


def retry_policy(settings: Settings) -> RetryPolicy:
    """The retry schedule of the ``delivery:`` section."""
    d = settings.delivery
    return RetryPolicy(base_s=d.retry_base_s, cap_s=d.retry_cap_s, max_attempts=d.max_attempts,
                       max_age_s=d.max_age_s)


def claim_digests(store: Any, rules: RuleDelivery, now: datetime) -> int:
    """Claim every digest window that has closed (one outbox row each); how many."""
    made = 0
    for group in store.held_groups():
        end = due_window(rules.policy(group.rule), group.oldest, now, store.taken_windows(group))
        if end is None:
            continue
        alert_id = store.claim_digest(group, end, now)
        if alert_id is not None:
            made += 1
            log.info("digest.claimed rule=%s recipient=%s target=%s window_end=%s matches=%d "
                     "alert_id=%s", group.rule, group.recipient, group.target_key,
                     end.isoformat(), group.count, alert_id)
    return made


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


class AlertStore(Protocol):
    """The part of the store the delivery loop needs."""

    def claim_due_alerts(self, now: datetime, *, owner: str, limit: int) -> list[AlertToSend]: ...

    def mark_alert_sent(self, alert_id: int, now: datetime) -> None: ...

    def mark_alert_failed(
        self, alert_id: int, error: str, now: datetime, next_attempt_at: datetime | None
    ) -> None: ...


def deliver_due(
    store: AlertStore,
    notifier: Notifier,
    now: datetime,
    *,
    owner: str,
    limit: int = 100,
    policy: RetryPolicy = RetryPolicy(),
    rng: random.Random | None = None,
    rules: RuleDelivery | None = None,
) -> DeliveryReport:
    """Claim due alerts, hold or render and send each to its one target, record the outcome.

    With ``rules`` (the daemon always passes them) alerts may be held for a digest,
    rules' templates are used, and due digest messages are sent too.
    """
    report = DeliveryReport()
    rules = rules or RuleDelivery()
    alerts = store.claim_due_alerts(now, owner=owner, limit=limit)
    sent_recently = _sent_last_hour(store, rules, alerts, now)
    for alert in alerts:
        key = (alert.rule, alert.recipient, alert.target_key)
        reason = hold_reason(rules.policy(alert.rule), now, sent_recently.get(key, 0))
        if reason is not None:
            store.hold_alert(alert.id)  # type: ignore[attr-defined]
            report.held += 1
            log.info("alert.held id=%s rule=%s recipient=%s reason=%s",
                     alert.id, alert.rule, alert.recipient, reason)
            continue
        route = Route(recipient=alert.recipient, target_key=alert.target_key)
        error = _send(notifier, route, lambda a=alert: rules.render_alert(a), alert.id, alert.rule)
        _record(store, report, policy, rng, now, error, alert.id, alert.rule, route,
                alert.attempts, alert.matched_at)
        if error is None:
            sent_recently[key] = sent_recently.get(key, 0) + 1
    if isinstance(store, DigestStore):
        for digest in store.claim_due_digests(now, owner=owner, limit=limit,
                                              max_items=rules.digest_max_items):
            route = Route(recipient=digest.recipient, target_key=digest.target_key)
            error = _send(notifier, route, lambda d=digest: rules.render_digest(d), digest.id,
                          digest.rule)
            _record(store, report, policy, rng, now, error, digest.id, digest.rule, route,
                    digest.attempts, digest.created_at)
    return report


@runtime_checkable
class DigestStore(Protocol):
    """The store parts for policies and digests (the real Store has them)."""

    def hold_alert(self, alert_id: int) -> None: ...

    def sent_counts_since(self, since: datetime) -> dict[tuple[str, str, str], int]: ...

    def claim_due_digests(
        self, now: datetime, *, owner: str, limit: int, max_items: int
    ) -> list[DigestToSend]: ...


def _sent_last_hour(
    store: AlertStore, rules: RuleDelivery, alerts: Sequence[AlertToSend], now: datetime
) -> dict[tuple[str, str, str], int]:
    """Immediate sends per (rule, recipient, target) in the last hour, if any rule caps them."""
    if not any(rules.policy(a.rule).max_per_hour for a in alerts):
        return {}
    return store.sent_counts_since(now - timedelta(hours=1))  # type: ignore[attr-defined, no-any-return]


def _record(
    store: AlertStore, report: DeliveryReport, policy: RetryPolicy, rng: random.Random | None,
    now: datetime, error: str | None, row_id: int, rule: str, route: Route, attempts: int,
    created_at: datetime,
) -> None:
    """Mark one outbox row sent, or failed with its retry time, or dead."""
    if error is None:
        store.mark_alert_sent(row_id, now)
        report.sent += 1
        log.info("alert.sent id=%s rule=%s recipient=%s target=%s",
                 row_id, rule, route.recipient, route.target_key)
        return
    attempts += 1
    retry_at = policy.retry_at(attempts, created_at, now, rng)
    store.mark_alert_failed(row_id, error, now, retry_at)
    if retry_at is None:
        report.dead += 1
    else:
        report.failed += 1
    log.warning("alert.failed id=%s rule=%s recipient=%s target=%s attempts=%s "
                "next_attempt_at=%s error=%s", row_id, rule, route.recipient,
                route.target_key, attempts, retry_at.isoformat() if retry_at else "dead", error)


def _send(
    notifier: Notifier, route: Route, render: Callable[[], RenderedAlert], row_id: int, rule: str
) -> str | None:
    """Render and send one message; the redacted error text, or None when it was delivered."""
    try:
        notifier.send_rendered(route, render())
    except DeliveryError as e:
        return redact(str(e))[:MAX_ERROR_LEN]
    except Exception as e:  # a bug in rendering must not lose the alert: retry it, keep the reason
        log.exception("alert.error id=%s rule=%s", row_id, rule)
        return redact(f"internal error: {type(e).__name__}: {e}")[:MAX_ERROR_LEN]
    return None
