"""Send alerts through apprise, one target URL at a time.

apprise's ``notify()`` gives one verdict for all the services it was handed,
so a partial failure would resend to the targets that already succeeded. The
:class:`Notifier` therefore keeps one ``Apprise`` object per target URL, and
every outbox row names one target (a :class:`~monitor.article.Route`).

The outbox loop that claims rows and retries them is :mod:`monitor.alerts.drain`.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from monitor.alerts.email_text import text_part
from monitor.alerts.render import RenderedAlert
from monitor.article import Route
from monitor.errors import ConfigError, DeliveryError
from monitor.redact import redact, register_secrets, url_secrets

if TYPE_CHECKING:
    import apprise

log = logging.getLogger(__name__)

#: Longest error text kept on an alert row.
MAX_ERROR_LEN = 1000
_PROBLEM_LEVELS = ("WARNING", "ERROR", "CRITICAL")
#: The exception a plugin caught, which apprise logs at DEBUG only ("Socket Exception:
#: SMTP AUTH extension not supported by server.") under a vaguer WARNING.
_CAUSE_RE = re.compile(r"^(?:[\w/]+ )?(?:Exception|Error)\b[^:]*:\s*(?P<cause>\S.*)", re.S)
_TIMEOUT_RE = re.compile(r"timed? ?out", re.I)


def _apprise() -> Any:
    """apprise with our console:// plugin registered, imported on first use (it costs
    about 0.2 s of start-up, which commands without targets need not pay)."""
    import apprise

    from monitor.alerts import console  # noqa: F401  (registers console://)

    _keep_debug_lines(logging.getLogger("apprise"))
    return apprise


#: The apprise records of the send running in this thread (see Notifier.send).
_sending = threading.local()


class _ForwardToRoot(logging.Handler):
    """Passes apprise's records on to the root handlers at the level the user chose.

    During a send they are held back: a failed send raises DeliveryError with them as
    its reason, which the caller logs (``alert.failed ... error=...``), so forwarding
    them too printed every failure twice; a send that succeeds lets them through."""

    def emit(self, record: logging.LogRecord) -> None:
        root = logging.getLogger()
        if record.levelno < root.getEffectiveLevel():
            return
        held: list[logging.LogRecord] | None = getattr(_sending, "records", None)
        if held is not None:
            held.append(record)
        else:
            root.handle(record)


def _keep_debug_lines(logger: logging.Logger) -> None:
    """Let apprise's per-call capture see its DEBUG lines (where the cause of a failure
    is) without printing them: the apprise logger records everything, and only what
    passes the root logger's level reaches the user's handlers."""
    if any(isinstance(h, _ForwardToRoot) for h in logger.handlers):
        return
    logger.addHandler(_ForwardToRoot())
    logger.propagate = False
    logger.setLevel(logging.DEBUG)


def target_key(url: str) -> str:
    """A stable, short, secret-free key for a target URL (16 hex digits of SHA-256)."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


_UNBUILT: Any = object()


@dataclass
class _Target:
    recipient: str
    index: int
    url: str
    key: str
    #: The apprise asset of every send (Notifier.asset; built with apprise, lazily too).
    asset: Callable[[], Any] = field(repr=False, default=lambda: None)
    _apobj: Any = field(default=_UNBUILT, repr=False)

    @property
    def apobj(self) -> apprise.Apprise | None:
        """apprise's object for the URL, built at the first send: a run with nothing to
        send never loads apprise's plugins (0.4 s). None when apprise cannot use the
        URL; sending then fails with the reason."""
        if self._apobj is _UNBUILT:
            apobj = _apprise().Apprise(asset=self.asset())
            self._apobj = apobj if apobj.add(self.url) else None
        return self._apobj  # type: ignore[no-any-return]

    @property
    def label(self) -> str:
        return f"recipients.{self.recipient}[{self.index}]"


class Notifier:
    """The configured recipients, as one apprise object per target URL.

    apprise throttles consecutive sends through one plugin object (5.5 s for
    email, 1.2 s for Slack) by sleeping, which would stall the whole delivery
    loop behind one busy target. By default each send through such a plugin
    therefore uses a fresh apprise object (parsing a URL costs well under a
    millisecond; plugins that do not pace, webhooks, keep theirs), and a
    provider that rate-limits us answers with an error the retry schedule
    absorbs. ``throttle=True`` keeps apprise's pacing instead.
    """

    def __init__(self, recipients: Mapping[str, Sequence[str]], *, throttle: bool = False) -> None:
        self._throttle = throttle
        self._asset: Any = None
        self._by_recipient: dict[str, list[_Target]] = {}
        self._targets: dict[tuple[str, str], _Target] = {}
        for name, urls in recipients.items():
            targets = self._by_recipient.setdefault(name, [])
            for index, url in enumerate(urls):
                register_secrets(url_secrets(url))
                target = _Target(name, index, url, target_key(url), self.asset)
                targets.append(target)
                self._targets.setdefault((name, target.key), target)

    def asset(self) -> Any:
        """The apprise asset of our sends, made at the first send (it loads apprise)."""
        if self._asset is None:
            self._asset = _asset()
        return self._asset

    def warm(self) -> None:
        """Load apprise and build every target's object now (the daemon calls this in
        the background at start), so the first alert does not wait ~1 s for it."""
        try:
            for targets in self._by_recipient.values():
                for target in targets:
                    _ = target.apobj
        except Exception as e:  # the first send meets it again, and reports it per alert
            log.warning("notifier.warm_failed error=%s", redact(f"{type(e).__name__}: {e}"))

    def problems(self) -> list[str]:
        """One line per URL apprise cannot parse, with the URL redacted."""
        return [
            f"{t.label}: apprise cannot use '{redact(t.url)}'"
            for targets in self._by_recipient.values()
            for t in targets
            if t.apobj is None
        ]

    def target_keys(self) -> frozenset[str]:
        """The key of every configured target."""
        return frozenset(key for _, key in self._targets)

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
        """Send a rendered alert in the format the route's target wants.

        An HTML body goes with our text body as its plain-text alternative
        (email's text/plain part), not apprise's conversion of the HTML.
        """
        fmt = self.format_for(route)
        if fmt != "html":
            self.send(route, rendered.title, rendered.body_for(fmt), fmt)
            return
        with text_part(rendered.html, rendered.text):
            self.send(route, rendered.title, rendered.html, fmt)

    def send(self, route: Route, title: str, body: str, body_format: str = "text") -> None:
        """Send one message to one target; raise DeliveryError (redacted reason) on failure."""
        target = self._target(route)
        if target.apobj is None:
            raise DeliveryError(f"{target.label}: apprise cannot use '{redact(target.url)}'")
        apobj = target.apobj
        if not self._throttle and _paces(apobj):
            apobj = _fresh_apprise(target.url, self.asset())
        apprise = _apprise()
        _sending.records = []
        try:
            with apprise.LogCapture(level=logging.WARNING,
                                    fmt="%(levelname)s %(message)s") as captured:
                try:
                    result = apobj.notify(body=body, title=title, body_format=body_format,
                                          **_debug_logs_kwargs(apprise))
                except Exception as e:  # apprise should not raise; never stop the loop
                    reason = f"{target.label}: {type(e).__name__}: {e}"
                    raise DeliveryError(redact(reason)) from None
                text = captured.getvalue()
        finally:
            held, _sending.records = _sending.records, None
        if not result:  # what apprise logged is this error's reason: not printed twice
            reason = _failure_reason(result, text)
            raise DeliveryError(redact(f"{target.label}: {reason}")[:MAX_ERROR_LEN])
        root = logging.getLogger()
        for record in held:
            root.handle(record)

    def _target(self, route: Route) -> _Target:
        target = self._targets.get((route.recipient, route.target_key))
        if target is None:
            raise DeliveryError(
                f"target {route.target_key} of recipient '{route.recipient}' "
                "is no longer configured"
            )
        return target


def _paces(apobj: apprise.Apprise) -> bool:
    """Whether apprise would sleep between two sends through this object (its plugin
    has a request rate): then each send takes a fresh one. A webhook's plugin has
    none, and re-parsing its URL was a tenth of a send's CPU."""
    return any(getattr(plugin, "request_rate_per_sec", 1) > 0 for plugin in apobj)


def _fresh_apprise(url: str, asset: Any) -> apprise.Apprise:
    apobj = _apprise().Apprise(asset=asset)
    apobj.add(url)  # parsed once already (_Target.apobj), so it is usable
    return apobj


def _asset() -> Any:
    """apprise settings: send in the calling thread, without a deadline of apprise's own.

    apprise >= 2.3 otherwise hands every send with a deadline (60 s by default) to one
    shared pool of a few threads and stops waiting at the deadline: a few hung targets
    then fill the pool (every other send times out in its queue), and the pool's
    threads are joined when the interpreter exits, so a stop waits for them for ever.
    Our SendPool owns the thread of each send and its total timeout instead.
    """
    apprise = _apprise()
    try:
        return apprise.AppriseAsset(async_mode=False, service_timeout=0)
    except TypeError:  # apprise < 2.3: no service_timeout; sends run in the caller's thread
        return apprise.AppriseAsset(async_mode=False)


def plugin_format(plugin: Any) -> str:
    """The format to render for one apprise plugin instance.

    A ``?format=`` in the URL wins. A generic pass-through (webhook, console,
    apprise API) gets its default, text. A plugin that accepts Markdown is a
    chat (Slack, Telegram, Matrix, Discord): Markdown. Otherwise its native
    format (email: HTML).
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
    if {"text", "html", "markdown"} <= set(names) and _is_pass_through(plugin):
        return names[0]
    return "markdown" if "markdown" in names else names[0]


#: Schemas that forward the body as given (webhooks, the API, our console), not chats.
_PASS_THROUGH = frozenset({"console", "json", "jsons", "xml", "xmls", "form", "forms", "apprise",
                           "apprises"})


def _is_pass_through(plugin: Any) -> bool:
    schemas: set[str] = set()
    for attr in ("protocol", "secure_protocol"):
        value = getattr(plugin, attr, None)
        schemas.update([value] if isinstance(value, str) else value or ())
    return not schemas or bool(schemas & _PASS_THROUGH)


def _format_name(fmt: Any) -> str:
    return str(getattr(fmt, "value", fmt)).lower()


def _debug_logs_kwargs(apprise: Any) -> dict[str, Any]:
    """apprise >= 2.3 keeps each call's DEBUG lines on its result (per call, so sends in
    other threads cannot mix in); older versions only have the global LogCapture."""
    takes_level = "log_level" in inspect.signature(apprise.Apprise.notify).parameters
    return {"log_level": logging.DEBUG} if takes_level else {}


def _failure_reason(result: Any, captured: str) -> str:
    """What apprise logged for a failed send: its warnings and, from its DEBUG lines,
    the exception behind them; a timeout is called a timeout."""
    entries: list[tuple[str, str]] = []
    try:  # apprise >= 2 keeps the log lines of each service call on the result
        for service in result:
            entries += [(str(e.level), str(e.message)) for e in service.logs()]
    except TypeError:  # apprise 1.x returns a bool
        pass
    if not entries:
        entries = [(line.partition(" ")[0], line.partition(" ")[2])
                   for line in captured.splitlines() if line.strip()]
    problems = [m for level, m in entries if level in _PROBLEM_LEVELS]
    causes = [found["cause"].strip() for _, m in entries if (found := _CAUSE_RE.match(m))]
    status = getattr(getattr(result, "status", None), "name", None)
    reason = "; ".join(dict.fromkeys(problems)) or "apprise reported a failure without a reason"
    cause = "; ".join(dict.fromkeys(causes))
    if status == "TIMEOUT" or _TIMEOUT_RE.search(cause):
        return f"timeout: {cause or 'no answer in time'} ({reason})"
    if cause:
        reason = f"{reason}: {cause}"
    return f"{reason} ({status})" if status and status != "FAILURE" else reason
