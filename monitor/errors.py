"""The exception tree of news-monitor.

    MonitorError
    ├── ConfigError (also a ValueError)   invalid configuration: refuse to start
    │   └── QueryError                    a rule query that does not parse or compile
    ├── FetchError                        a feed could not be fetched (recorded on the feed)
    ├── StoreError                        the database could not be used
    │   └── StoreUnavailable              ...for now: unreachable, restarting, locked or full
    ├── DeliveryError                     a notification target refused or failed a message
    └── Interrupted                       SIGINT/SIGTERM stopped a run (leases released)

A failing feed or a failing notification target is data, not a crash: the
pipeline records it and goes on. ConfigError and StoreError stop a command; the
daemon outlives StoreUnavailable (it backs off and retries, see docs/operations.md). Foreign exceptions are wrapped at the boundary with ``raise ... from``.
The class docstring is the default message.
"""

from __future__ import annotations


class MonitorError(Exception):
    """news-monitor failed."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())


class ConfigError(MonitorError, ValueError):
    """The configuration is invalid."""

    def __init__(self, message: str | None = None, problems: list[str] | None = None) -> None:
        self.problems: list[str] = list(problems or ([message] if message else []))
        if message is None and self.problems:
            message = "\n".join(self.problems)
        super().__init__(message)


class QueryError(ConfigError):
    """The rule query is invalid."""

    def __init__(self, message: str, column: int | None = None) -> None:
        #: 1-based column of the offending spot in the query text, if known.
        self.column = column
        #: the message without the position.
        self.reason = message
        where = f"column {column}: " if column is not None else ""
        super().__init__(f"{where}{message}")


class FetchError(MonitorError):
    """The feed could not be fetched."""


class StoreError(MonitorError):
    """The database could not be used."""


class StoreUnavailable(StoreError):
    """The database is unavailable for now (unreachable, restarting, locked or full)."""


class DeliveryError(MonitorError):
    """The notification could not be delivered."""


class Interrupted(MonitorError):
    """The run was interrupted."""
