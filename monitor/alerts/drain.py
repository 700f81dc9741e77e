"""The outbox drain loop: claim due alerts and digests, hold or send each to its
one target, record the outcome, with retries.

Deciding and doing are split: retries and rule policies are pure
(:mod:`monitor.alerts.policy`, :mod:`monitor.alerts.digest`), rendering is pure
(:mod:`monitor.alerts.render`, :mod:`monitor.alerts.templates`), sending is
:mod:`monitor.alerts.notifier`, and :func:`drain` / :func:`deliver_due` /
:func:`claim_digests` are the thin loops that claim rows, hold or send them and
record the outcome.
"""

from __future__ import annotations

import logging
import random
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol, runtime_checkable

from monitor.alerts.digest import DigestToSend, due_window, hold_reason
from monitor.alerts.notifier import MAX_ERROR_LEN, Notifier
from monitor.alerts.policy import RetryPolicy, RuleDelivery
from monitor.alerts.render import RenderedAlert
from monitor.alerts.sendpool import SendOutcome, SendPool
from monitor.article import AlertToSend, Route
from monitor.errors import DeliveryError, StoreUnavailable
from monitor.redact import redact

log = logging.getLogger(__name__)

#: The clock of leases and deadlines (a module attribute, so a test can drive it).
_monotonic = time.monotonic
#: The store's alert lease when none is given (``Store.claim_due_alerts``).
DEFAULT_LEASE_S = 120


def send_within(notifier: Notifier, route: Route, rendered: RenderedAlert,
                timeout_s: float) -> str | None:
    """Send one message outside the delivery loop (``notify-test``), giving up after
    ``timeout_s``; the redacted error text, or None when it was delivered."""
    pool = SendPool()
    pool.start(route.target_key, None, partial(_send, notifier, route, lambda: rendered, 0,
                                               "notify-test"), timeout_s)
    outcomes: list[SendOutcome] = []
    while not outcomes:
        outcomes = pool.wait()
    return outcomes[0].error


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
    #: A claim came back full: more rows may be due (``drain`` claims again).
    more: bool = field(default=False, compare=False)
    #: Alerts still due when ``drain`` stopped early (time budget, or stopping).
    pending: int = field(default=0, compare=False)

    def add(self, other: DeliveryReport) -> None:
        self.sent += other.sent
        self.failed += other.failed
        self.dead += other.dead
        self.held += other.held


#: Sends at once (to different targets) when the config does not say (``delivery.concurrency``).
DEFAULT_CONCURRENCY = 4
#: The longest one send may take, in seconds, when the config does not say (``delivery.timeout``).
DEFAULT_TIMEOUT_S = 30.0
#: While sends are in flight, ``drain`` looks for newly due alerts this often (seconds):
#: a target that hangs must not keep the other targets' new alerts waiting.
RECLAIM_S = 0.25


@dataclass
class Dispatch:
    """How sends run: each within ``timeout_s``, at most ``concurrency`` at once and one
    per target. The pool remembers targets whose send hung past its timeout (the daemon
    keeps one Dispatch, so a pass knows what the last one left stuck)."""

    timeout_s: float = DEFAULT_TIMEOUT_S
    concurrency: int = DEFAULT_CONCURRENCY
    pool: SendPool = field(default_factory=SendPool)


def drain(
    store: Any, notifier: Notifier, clock: Callable[[], datetime], *, owner: str, batch: int,
    rules: RuleDelivery, policy: RetryPolicy, lease_s: int | None = None,
    deadline: float | None = None, stop: Callable[[], bool] = lambda: False,
    dispatch: Dispatch | None = None,
) -> DeliveryReport:
    """Deliver everything due until nothing is due: closed digest windows are claimed,
    then up to ``batch`` alerts and digests, sent as targets become free, each row
    committed as it goes, claiming again as the queue empties. While a send is in
    flight, newly due alerts of the other targets are claimed every ``RECLAIM_S``, and
    at once when the daemon says new ones were queued (``SendPool.nudge``).

    Past ``deadline`` (a ``time.monotonic()`` value) nothing more is claimed (the first
    claim is always sent). Once ``stop()``, nothing more is started: rows not yet sent
    are given back and sends in flight get their timeout. ``pending`` then says how
    many alerts are still due.
    """
    total = DeliveryReport()
    run = _Run(store, notifier, dispatch or Dispatch(), total, clock=clock, owner=owner,
               policy=policy, rules=rules, lease_s=lease_s)
    full, claimed_once, next_claim, ended = True, False, 0.0, False
    while True:
        stopping = stop()
        ended = ended or stopping or (
            claimed_once and deadline is not None and _monotonic() >= deadline)
        if stopping:
            run.give_back_all()
        elif not ended and run.queued <= batch // 2 and run.claimable() and (
                full or (run.left_out and not run.active) or _monotonic() >= next_claim
                or run.dispatch.pool.take_nudge()):
            now = clock()
            claim_digests(store, rules, now)
            full = run.claim(now, batch - run.queued)
            claimed_once, next_claim = True, _monotonic() + RECLAIM_S
        if not run.active:
            if ended or not (full or run.left_out):
                break
            continue
        # With every target busy a claim would bring nothing: wait for an outcome.
        run.step(until=None if ended or not run.claimable() else next_claim)
    if ended:
        total.pending = store.count_due_alerts(clock())
        total.more = total.pending > 0
        if total.pending:
            log.info("deliver.stopped_early pending=%d", total.pending)
    return total


def record_before_exit(store: AlertStore, pool: SendPool, now: datetime) -> None:
    """On the way out: mark sent what was delivered while the database was away (its
    outcome put back in ``pool``). If the database is still away, say which alerts may
    be sent again by the next run (their leases expire; a failure is retried anyway).

    Sends still in flight (a pass that failed on the database had started the next
    row of a target) are waited for, each within its own timeout, as a pass that
    stops waits for them: one delivered after the failure is recorded too."""
    outcomes = pool.take_unrecorded()
    while pool.running:
        outcomes += pool.wait()
    delivered = [o.job.id for o in outcomes if o.error is None]
    if not delivered:
        return
    try:
        store.mark_alerts_sent(delivered, now)
    except Exception as e:  # noqa: BLE001 - on the way out: say it, do not crash
        log.warning("deliver.unrecorded alerts=%d ids=%s error=%s: delivered, but the "
                    "database did not take it; the next run may send them again",
                    len(delivered), delivered[:20], redact(str(e)))


def claim_digests(store: Any, rules: RuleDelivery, now: datetime) -> int:
    """Claim every digest window that has closed (one outbox row each); how many."""
    made = 0
    for group in store.held_groups():
        end = due_window(rules.policy(group.rule), group.release, now, store.taken_windows(group))
        if end is None:
            continue
        alert_id = store.claim_digest(group, end, now)
        if alert_id is not None:
            made += 1
            log.info("digest.claimed rule=%s recipient=%s target=%s window_end=%s matches=%d "
                     "alert_id=%s", group.rule, group.recipient, group.target_key,
                     end.isoformat(), group.count, alert_id)
    return made


class AlertStore(Protocol):
    """The part of the store the delivery loop needs."""

    def claim_due_alerts(self, now: datetime, *, owner: str, limit: int) -> list[AlertToSend]: ...

    def mark_alerts_sent(self, alert_ids: Sequence[int], now: datetime, *,
                         joining: Callable[[], Sequence[int]] | None = None) -> None: ...

    def release_alerts(self, alert_ids: Sequence[int], owner: str) -> None: ...

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
    lease_s: int | None = None,
    dispatch: Dispatch | None = None,
) -> DeliveryReport:
    """One pass: claim due alerts, hold or render and send each to its one target
    (targets in parallel, each send within its timeout), record every outcome.

    With ``rules`` (the daemon always passes them) alerts may be held for a digest,
    rules' templates are used, and due digest messages are sent too.

    A claim is only used during the first half of its lease: rows not sent by then
    are given back (``more``), so a slow target never lets the lease run out under
    a send and another replica send the same row again.
    """
    report = DeliveryReport()
    run = _Run(store, notifier, dispatch or Dispatch(), report, clock=lambda: now, owner=owner,
               policy=policy, rules=rules or RuleDelivery(), lease_s=lease_s, rng=rng)
    report.more = run.claim(now, limit)
    while run.active:
        run.step()
    return report


@dataclass(frozen=True)
class _Job:
    """One claimed outbox row (an alert or a digest message) waiting for its send."""

    id: int
    rule: str
    route: Route
    attempts: int
    created_at: datetime
    render: Callable[[], RenderedAlert]
    #: After this ``_monotonic()`` the claim is too old to send on: it is given back.
    give_back_at: float


class _Run:
    """Claimed rows queued per target, sent through the pool, outcomes recorded.

    Only this thread touches the store; the pool's threads only send.
    """

    def __init__(
        self, store: Any, notifier: Notifier, dispatch: Dispatch, report: DeliveryReport, *,
        clock: Callable[[], datetime], owner: str, policy: RetryPolicy, rules: RuleDelivery,
        lease_s: int | None, rng: random.Random | None = None,
    ) -> None:
        self.store, self.notifier, self.dispatch, self.report = store, notifier, dispatch, report
        self.clock, self.owner, self.policy, self.rules = clock, owner, policy, rules
        self.lease_s, self.rng = lease_s, rng
        self.queues: dict[str, deque[_Job]] = {}
        #: The last claim skipped targets that were busy (they may have rows due).
        self.left_out = False

    @property
    def queued(self) -> int:
        return sum(len(q) for q in self.queues.values())

    @property
    def active(self) -> bool:
        """Rows wait for a send, or sends are in flight."""
        return self.queued > 0 or self.dispatch.pool.running > 0

    def claimable(self) -> bool:
        """Some configured target is free: a claim could bring rows to send now (a
        claim skips the busy ones, and is a write that may wait behind the ingest)."""
        targets = self.notifier.target_keys()
        if not targets:
            return True
        busy = self.dispatch.pool.busy_targets() | {t for t, q in self.queues.items() if q}
        return not targets <= busy

    def claim(self, now: datetime, limit: int) -> bool:
        """Claim due rows of the targets that are free, hold or queue each; True when
        a claim came back full. ``left_out``: targets busy with a send were skipped."""
        self._settle(self.dispatch.pool.wait(until=0.0))  # what ended since (late ones)
        lease = {} if self.lease_s is None else {"lease_s": self.lease_s}
        give_back_at = _monotonic() + (self.lease_s or DEFAULT_LEASE_S) / 2
        stuck = self.dispatch.pool.stuck_targets()
        working = (self.dispatch.pool.busy_targets() - stuck) | {
            t for t, q in self.queues.items() if q}
        busy = stuck | working
        skip = {"skip_targets": busy} if busy else {}
        alerts = self.store.claim_due_alerts(now, owner=self.owner, limit=limit, **lease, **skip)
        # Targets with rows queued or in flight are not claimed: the store's count is exact.
        sent_recently = _sent_last_hour(self.store, self.rules, alerts, now)
        for alert in alerts:
            key = (alert.rule, alert.recipient, alert.target_key)
            if self._held(alert, now, sent_recently.get(key, 0)):
                continue
            sent_recently[key] = sent_recently.get(key, 0) + 1
            route = Route(recipient=alert.recipient, target_key=alert.target_key)
            self._queue(_Job(alert.id, alert.rule, route, alert.attempts, alert.matched_at,
                             partial(self.rules.render_alert, alert), give_back_at))
        self.left_out = bool(working)
        full = len(alerts) >= limit
        if isinstance(self.store, DigestStore):
            digests = self.store.claim_due_digests(now, owner=self.owner, limit=limit,
                                                   max_items=self.rules.digest_max_items, **lease)
            for d in digests:
                route = Route(recipient=d.recipient, target_key=d.target_key)
                self._queue(_Job(d.id, d.rule, route, d.attempts, d.created_at,
                                 partial(self.rules.render_digest, d), give_back_at))
            full = full or len(digests) >= limit
        return full

    def _held(self, alert: AlertToSend, now: datetime, sent_last_hour: int) -> bool:
        how = self.rules.policy(alert.rule)
        reason = hold_reason(how, now, sent_last_hour)
        if reason is None:
            return False
        release = how.release_at(now)
        self.store.hold_alert(alert.id, release)
        self.report.held += 1
        log.info("alert.held id=%s rule=%s recipient=%s reason=%s release_at=%s",
                 alert.id, alert.rule, alert.recipient, reason, release.isoformat())
        return True

    def _queue(self, job: _Job) -> None:
        self.queues.setdefault(job.route.target_key, deque()).append(job)

    def step(self, until: float | None = None) -> None:
        """Start what may start, wait for an outcome (or ``until``), record outcomes."""
        self._start_sends()
        outcomes = self.dispatch.pool.wait(until)
        # The targets that just finished send their next row while these are written:
        # a target's sends are not spaced by the database (whose write lock the ingest
        # may hold), and what went out together is recorded in one transaction.
        self._start_sends()
        self._settle(outcomes)

    def _start_sends(self) -> None:
        pool, limit = self.dispatch.pool, self.dispatch.concurrency
        busy = pool.busy_targets()
        for target in list(self.queues):
            queue = self.queues[target]
            if pool.running >= limit:
                return
            if not queue or target in busy:
                continue
            if _monotonic() >= queue[0].give_back_at:
                self._give_back(target, "half the lease spent")
                continue
            job = queue.popleft()
            send = partial(_send, self.notifier, job.route, job.render, job.id, job.rule)
            pool.start(target, job, send, self.dispatch.timeout_s)
            self.queues[target] = self.queues.pop(target)  # round robin: to the back

    def _settle(self, outcomes: Sequence[SendOutcome]) -> None:
        """Record outcomes: the delivered ones together, each failure with its retry.

        When the database is unavailable, what was not recorded goes back
        to the pool before the error is raised: the next pass records it before it
        claims anything. A delivered row whose lease ran out meanwhile is thus marked
        sent, not claimed and sent again."""
        left = list(outcomes)
        try:
            self._record(left)
        except StoreUnavailable:
            self.dispatch.pool.put_back(left)
            raise

    def _record(self, left: list[SendOutcome]) -> None:
        """Record ``left``, removing each outcome once it is written."""
        delivered = [o for o in left if o.error is None and not o.late]
        for outcome in [o for o in left if o.error is not None or o.late]:
            job: _Job = outcome.job
            if outcome.late:  # its timeout was recorded (a retry is scheduled)
                log.warning("alert.late_outcome id=%s target=%s delivered=%s error=%s",
                            job.id, outcome.target, outcome.error is None, outcome.error)
                if outcome.error is None:  # delivered after all: do not send it again
                    self.store.mark_alerts_sent([job.id], self.clock())
                left.remove(outcome)
                continue
            _record_failure(self.store, self.report, self.policy, self.rng, self.clock(),
                            outcome.error or "", job)
            left.remove(outcome)
            if outcome.timed_out:
                log.warning("target.stuck recipient=%s target=%s timeout_s=%g: no other send "
                            "to it until this one returns", job.route.recipient,
                            outcome.target, self.dispatch.timeout_s)
                self._give_back(outcome.target, "its target timed out")
        if delivered:
            later: list[SendOutcome] = []

            def ended_meanwhile() -> list[int]:
                """Sends that ended while this write waited for the database (behind an
                ingest batch, say) are recorded by it too: one write for both, and no
                send starts meanwhile, so no more is unrecorded at a crash than before."""
                outcomes = self.dispatch.pool.wait(until=0.0)
                left.extend(outcomes)  # put back with the rest if the write fails
                ids = []
                for o in outcomes:
                    if o.error is None and not o.late:
                        delivered.append(o)
                        ids.append(o.job.id)
                    else:
                        later.append(o)
                return ids

            self.store.mark_alerts_sent([o.job.id for o in delivered], self.clock(),
                                        joining=ended_meanwhile)
            left.clear()
            self.dispatch.pool.put_back(later)  # failures and timeouts: the next wait's
            self.report.sent += len(delivered)
            for job in [o.job for o in delivered]:
                log.info("alert.sent id=%s rule=%s recipient=%s target=%s",
                         job.id, job.rule, job.route.recipient, job.route.target_key)

    def _give_back(self, target: str, reason: str) -> None:
        """Release a target's rows not sent: the next claim (ours or another's) takes them."""
        ids = [job.id for job in self.queues.pop(target, ())]
        if ids:
            self.store.release_alerts(ids, self.owner)
            self.report.more = True
            log.info("deliver.gave_back alerts=%d target=%s reason=%s", len(ids), target, reason)

    def give_back_all(self) -> None:
        for target in list(self.queues):
            self._give_back(target, "stopping")


@runtime_checkable
class DigestStore(Protocol):
    """The store parts for policies and digests (the real Store has them)."""

    def hold_alert(self, alert_id: int, release_at: datetime) -> None: ...

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


def _record_failure(
    store: AlertStore, report: DeliveryReport, policy: RetryPolicy, rng: random.Random | None,
    now: datetime, error: str, job: _Job,
) -> None:
    """Mark one outbox row failed with its retry time, or dead."""
    route = job.route
    attempts = job.attempts + 1
    retry_at = policy.retry_at(attempts, job.created_at, now, rng)
    store.mark_alert_failed(job.id, error, now, retry_at)
    if retry_at is None:
        report.dead += 1
    else:
        report.failed += 1
    log.warning("alert.failed id=%s rule=%s recipient=%s target=%s attempts=%s "
                "next_attempt_at=%s error=%s", job.id, job.rule, route.recipient,
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
