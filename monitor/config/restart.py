"""The settings a reload (SIGHUP) cannot apply: a running daemon read them once (pure).

A reload swaps in the feeds, entities, rules, recipients, delivery and poll policy at
once (monitor.service.Monitor.reload). What was built from the settings at start stays
as it was until a restart: the database connection, the listeners bound to an address
(the web server, the WebSub callbacks) and the routes they were built with, the parse
processes. A change to one of those is reported (``needs_restart``), never dropped in
silence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from monitor.config.models import Settings
from monitor.config.models import is_loopback
from monitor.errors import ConfigError
from monitor.redact import redact


@dataclass(frozen=True)
class RestartChange:
    """A changed setting the running daemon keeps as it was."""

    #: Its key path in the config, e.g. ``http.listen``.
    key: str
    #: The value in force and the value the file asks for, as shown (secrets masked;
    #: None for a block whose values are not one word).
    running: str | None
    configured: str | None


#: Key -> its value in a Settings, for each setting fixed at start. A key under another
#: (``http.listen`` under ``http``) is reported only when its block stayed.
FIXED_AT_START: tuple[tuple[str, Callable[[Settings], object]], ...] = (
    ("database", lambda s: s.database),
    ("storage.busy_timeout", lambda s: s.storage.busy_timeout_s),
    ("poll.parse_workers", lambda s: s.poll.parse_workers),
    ("http", lambda s: "on" if s.http is not None else "off"),
    ("http.listen", lambda s: s.http.listen if s.http else None),
    ("http.public_metrics", lambda s: s.http.public_metrics if s.http else None),
    ("websub", lambda s: s.websub),
)


def needs_restart(running: Settings, new: Settings) -> list[RestartChange]:
    """The settings ``new`` changes that a running daemon (started with ``running``)
    cannot apply without a restart, in the order of FIXED_AT_START."""
    found: list[RestartChange] = []
    for key, value_of in FIXED_AT_START:
        old, now = value_of(running), value_of(new)
        if old == now or any(key.startswith(f"{c.key}.") for c in found):
            continue
        found.append(RestartChange(key, _shown(old), _shown(now)))
    return found


def keep_fixed(running: Settings, new: Settings) -> Settings:
    """``new`` with the settings fixed at start as ``running`` has them: what the
    daemon goes on with after a reload (its web pages, probes and tokens included:
    ``http.tokens`` change, the address they are served on does not)."""
    http = running.http
    if running.http is not None and new.http is not None:
        http = new.http.model_copy(update={"listen": running.http.listen,
                                           "public_metrics": running.http.public_metrics})
        if not http.tokens and not is_loopback(http.host):  # as the start refuses it
            raise ConfigError(f"http.tokens: the daemon still listens on {http.listen} "
                              "(http.listen changes at a restart), which needs a token")
    storage = new.storage.model_copy(update={"busy_timeout_s": running.storage.busy_timeout_s})
    poll = new.poll.model_copy(update={"parse_workers": running.poll.parse_workers})
    return new.model_copy(update={"database": running.database, "storage": storage,
                                  "poll": poll, "http": http, "websub": running.websub})


def _shown(value: object) -> str | None:
    if value is None or isinstance(value, str | int | float | bool):
        return redact(str(value).lower() if isinstance(value, bool) or value is None
                      else str(value))
    return None
