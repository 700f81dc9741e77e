"""The validated shape of the configuration: pydantic models, durations and sizes.

Every model forbids unknown keys: a typo must never be silently ignored. YAML keys
are the short names (``interval``, ``timeout``, ``max_size``); Python code uses the
unit-suffixed field names (``interval_s``, ``max_bytes``). Later features (per-rule
``mode``/``digest``/``max_per_hour``/``quiet_hours``, ``default_notify``, OPML feeds,
``min_interval``/``max_interval``) are new optional fields on these models.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from monitor.article import FeedSpec, RuleSpec

#: A database URL: ``dialect[+driver]://[user[:password]@][host][:port][/database][?query]``.
_DB_URL_RE = re.compile(r"^[A-Za-z][\w+]*://")

#: The database when neither the config nor MONITOR_DATABASE_URL names one. A relative
#: SQLite path in (or defaulted for) a config file is relative to the file's folder.
DEFAULT_DATABASE = "sqlite:///data/news-monitor.db"

_DURATION_PART = re.compile(r"\s*(\d+)\s*([smhd])", re.IGNORECASE)
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmg]i?b|b)?\s*\Z", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9,
               "kib": 2**10, "mib": 2**20, "gib": 2**30}


#: Longest duration accepted: past it, ``now + timedelta`` overflows somewhere (year 9999).
MAX_DURATION_S = 100 * 365 * 86400
#: Largest size accepted (1TB): beyond any feed body or page.
MAX_SIZE = 10**12
#: Longer duration or size texts are refused before int() (which refuses 4,300 digits).
_MAX_NUMBER_TEXT = 40


def parse_duration(value: str | int) -> int:
    """``"90s"``, ``"15m"``, ``"2h"``, ``"1d"``, ``"1h30m"`` or a number -> seconds (> 0,
    at most 100 years).

    Raises ValueError with a message fit for the user.
    """
    if (isinstance(value, bool) or not isinstance(value, (int, str))
            or isinstance(value, str) and len(value) > _MAX_NUMBER_TEXT):
        raise ValueError(f"invalid duration {_short(value)}: use seconds or 90s, 15m, 2h, 1d")
    if isinstance(value, int) or value.strip().isdecimal():
        seconds = int(value)
    else:
        parts = _DURATION_PART.findall(value)
        if not parts or "".join(_DURATION_PART.sub("", value).split()):
            raise ValueError(f"invalid duration {value!r}: use seconds or 90s, 15m, 2h, 1d")
        seconds = sum(int(n) * _DURATION_UNITS[unit.lower()] for n, unit in parts)
    if seconds <= 0:
        raise ValueError(f"invalid duration {value!r}: must be more than 0 seconds")
    if seconds > MAX_DURATION_S:
        raise ValueError(f"invalid duration {_short(value)}: must be at most 100 years")
    return seconds


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 50 else text[:45] + "…" + text[-4:]


def parse_size(value: str | int) -> int:
    """``"10MB"``, ``"512KB"``, ``"1MiB"`` or a number of bytes -> bytes (> 0, at most 1TB).
    KB = 1000 bytes."""
    if (isinstance(value, bool) or not isinstance(value, (int, str))
            or isinstance(value, str) and len(value) > _MAX_NUMBER_TEXT):
        raise ValueError(f"invalid size {_short(value)}: use bytes or 512KB, 10MB, 1GB")
    if isinstance(value, int):
        size = value
    else:
        m = _SIZE.match(value)
        if not m:
            raise ValueError(f"invalid size {value!r}: use bytes or 512KB, 10MB, 1GB")
        size = int(float(m.group(1)) * _SIZE_UNITS[(m.group(2) or "b").lower()])
    if size <= 0:
        raise ValueError(f"invalid size {value!r}: must be more than 0 bytes")
    if size > MAX_SIZE:
        raise ValueError(f"invalid size {_short(value)}: must be at most 1TB")
    return size


def _as_duration(value: Any) -> Any:
    try:
        return parse_duration(value)
    except ValueError as e:
        raise PydanticCustomError("duration", str(e)) from None


def _as_size(value: Any) -> Any:
    try:
        return parse_size(value)
    except ValueError as e:
        raise PydanticCustomError("size", str(e)) from None


def _one_or_many(value: Any) -> Any:
    """A single string where a list is expected means a list of one."""
    return [value] if isinstance(value, str) else value


def _as_full_text(value: Any) -> Any:
    """``full_text: true | false | auto`` -> "true" / "false" / "auto"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "auto"):
        return value.strip().lower()
    raise PydanticCustomError("full_text", "expected true, false or auto, got {v!r}",
                              {"v": value})


def _as_duration_or_zero(value: Any) -> Any:
    return 0 if value in (0, "0") else _as_duration(value)


Duration = Annotated[int, BeforeValidator(_as_duration)]
#: A duration where 0 means "none" (``poll.backlog: 0``).
DurationOrZero = Annotated[int, BeforeValidator(_as_duration_or_zero)]
#: Whether to fetch article pages for their full text (see docs/polling.md).
FullText = Annotated[Literal["true", "false", "auto"], BeforeValidator(_as_full_text)]
Size = Annotated[int, BeforeValidator(_as_size)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Names = Annotated[list[Name], BeforeValidator(_one_or_many)]


class _Settings(BaseModel):
    # Python code may use field names; load_settings validates YAML by alias only.
    model_config = ConfigDict(extra="forbid", frozen=True,
                              validate_by_name=True, validate_by_alias=True)


class PollSettings(_Settings):
    """How feeds are polled: ``{interval: 15m, timeout: 20s, concurrency: 20, max_size: 10MB}``."""

    interval_s: Duration = Field(900, alias="interval")
    timeout_s: Duration = Field(20, alias="timeout")
    concurrency: int = Field(20, ge=1)
    max_bytes: Size = Field(10_000_000, alias="max_size")
    # -- polling (issue 5): see docs/polling.md --
    #: Adapt each feed's interval to its observed rate of new items, within the bounds.
    adaptive: bool = False
    min_interval_s: Duration = Field(300, alias="min_interval")
    max_interval_s: Duration = Field(86400, alias="max_interval")
    #: Cap on the exponential backoff of a failing feed.
    max_backoff_s: Duration = Field(86400, alias="max_backoff")
    #: Fetches at once to one host (on top of ``concurrency``, the global bound).
    per_host: int = Field(2, ge=1)
    #: Entries read from one feed document per poll (a 100,000-item feed costs bounded work).
    max_items: int = Field(1000, ge=1)
    #: How often the daemon looks for due feeds, and how long a claimed feed stays leased
    #: (a replica that dies mid-poll loses its feeds to the others after this).
    tick_s: Duration = Field(10, alias="tick")
    lease_s: Duration | None = Field(None, alias="lease")
    #: Random extra delay, as a share of the interval, so feeds do not poll in lock-step.
    jitter: float = Field(0.1, ge=0, le=1)
    #: Processes that parse feed documents beside the event loop (0: parse in threads;
    #: unset: the daemon uses 1 on a machine with 2+ CPUs, about 1.7x the articles/s).
    parse_workers: int | None = Field(None, ge=0, le=64)
    #: A feed's first poll alerts only items dated within this (0: none); older ones are
    #: stored and matched silently (see docs/polling.md, ``rules apply --alert``).
    backlog_s: DurationOrZero = Field(86400, alias="backlog")
    # -- full text (issue 10): see docs/polling.md --
    #: Fetch each new item's page for its full text: always, never, or (auto) when the
    #: item carries fewer than ~60 words. Feeds may override it.
    full_text: FullText = "auto"
    #: Page fetches at once, in all (the per-host limit is ``per_host``).
    full_text_concurrency: int = Field(8, ge=1)


class FeedSettings(_Settings):
    """One feed: ``{url: ..., name: ..., interval: 5m, tags: [...]}``, or a file of
    feeds: ``{opml: path/to/file.opml, tags: [...], interval: 5m}`` (relative to the
    config's folder; the loader replaces it by one entry per feed in the file)."""

    # Always set once loaded: the loader expands ``opml`` entries into ``url`` ones.
    url: str = None  # type: ignore[assignment]
    name: Name | None = None
    interval_s: Duration | None = Field(None, alias="interval")
    tags: Names = Field(default_factory=list)
    opml: Name | None = None
    #: Overrides ``poll.full_text`` for this feed.
    full_text: FullText | None = None
    #: The URL as written when part of it came from ``${VAR}`` (that part ``***``).
    _shown_url: str | None = PrivateAttr(default=None)

    @property
    def shown_url(self) -> str:
        """The URL to show: as written, what came from the environment masked."""
        return self._shown_url or self.url

    @model_validator(mode="after")
    def _url_or_opml(self) -> FeedSettings:
        if (self.url is None) == (self.opml is None):
            raise PydanticCustomError(
                "feed_source", "give either url (one feed) or opml (a file of feeds)")
        if self.opml is not None and self.name is not None:
            raise PydanticCustomError(
                "feed_source", "an opml entry takes its names from the file: remove name")
        return self

    @field_validator("url")
    @classmethod
    def _http_only(cls, url: str | None) -> str | None:
        if url is None:
            return None
        url = url.strip()
        try:
            parts = urlsplit(url)
        except ValueError:  # "https://[::1/" (unbalanced IPv6 brackets)
            parts = urlsplit("")
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            raise PydanticCustomError(
                "feed_url", "must be an http:// or https:// URL, got '{url}'", {"url": url})
        return url


# -- delivery (issue 4): see docs/delivery.md --

_CLOCK = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)\Z")


def _check_timezone(name: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise PydanticCustomError(
            "timezone", "unknown time zone '{tz}' (use an IANA name like Europe/Berlin)",
            {"tz": name}) from None
    return name


TimeZone = Annotated[Name, AfterValidator(_check_timezone)]


def _check_clock(value: str) -> str:
    if not _CLOCK.match(value):
        raise PydanticCustomError("clock", "expected a time of day like 22:00, got '{v}'",
                                  {"v": value})
    return value


Clock = Annotated[Name, AfterValidator(_check_clock)]


class DigestSettings(_Settings):
    """When a rule's digest goes out: ``{every: 1h}`` or ``{cron: "0 8 * * mon-fri"}``."""

    every_s: Duration | None = Field(None, alias="every")
    cron: Name | None = None
    #: The zone of cron fields and of ``every`` boundaries (``every: 1d`` is local midnight).
    timezone: TimeZone = "UTC"

    @model_validator(mode="after")
    def _one_schedule(self) -> DigestSettings:
        if (self.every_s is None) == (self.cron is None):
            raise PydanticCustomError("digest", "give either 'every' or 'cron', not both or neither")
        if self.cron is not None:
            from apscheduler.triggers.cron import CronTrigger

            try:
                CronTrigger.from_crontab(self.cron, timezone=self.timezone)
            except ValueError as e:
                raise PydanticCustomError("cron", "invalid cron expression '{c}': {why}",
                                          {"c": self.cron, "why": str(e)}) from None
        return self


class QuietHours(_Settings):
    """Hold alerts between two times of day: ``{from: "22:00", to: "07:00", timezone: ...}``."""

    start: Clock = Field(alias="from")
    end: Clock = Field(alias="to")
    timezone: TimeZone = "UTC"


class TemplateSettings(_Settings):
    """Jinja2 sources per body format; a plain string in YAML sets all three bodies."""

    title: str | None = None
    text: str | None = None
    markdown: str | None = None
    html: str | None = None


def _template_shorthand(value: Any) -> Any:
    return {"text": value, "markdown": value, "html": value} if isinstance(value, str) else value


class DeliverySettings(_Settings):
    """Retries and digests: ``{retry_base: 30s, retry_cap: 1h, max_attempts: 10, max_age: 2d}``."""

    retry_base_s: Duration = Field(30, alias="retry_base")
    retry_cap_s: Duration = Field(3600, alias="retry_cap")
    max_attempts: int = Field(10, ge=1)
    #: An alert still failing this long after it was created is given up (dead).
    max_age_s: Duration = Field(2 * 86400, alias="max_age")
    #: Matches listed in one digest message; the rest are counted ("and 37 more").
    digest_max_items: int = Field(20, ge=1)
    #: How often the daemon looks for due alerts and closed digest windows.
    tick_s: Duration = Field(5, alias="tick")
    #: Alerts claimed per pass, and how long a claim holds them: a worker that dies
    #: mid-pass leaves its claimed alerts to the others after this.
    batch: int = Field(50, ge=1)
    lease_s: Duration = Field(120, alias="lease")
    #: The longest one send may take in all (connect, TLS, every read): a target that
    #: hangs past it is recorded as failed (a timeout, retried) and the others go on.
    #: Default 30 s, or half of ``lease`` when that is shorter.
    timeout_s: Duration = Field(30, alias="timeout")
    #: Sends at once, to different targets (one target gets one send at a time).
    concurrency: int = Field(4, ge=1, le=64)

    @model_validator(mode="after")
    def _timeout_within_lease(self) -> DeliverySettings:
        # A claim is used for half its lease; a send must fit in that, or another
        # worker could claim the row while it is still being sent.
        if "timeout_s" not in self.model_fields_set:
            # The default, fitted to a short lease (the model is frozen: set it once here).
            object.__setattr__(self, "timeout_s", max(1, min(self.timeout_s, self.lease_s // 2)))
        elif self.timeout_s * 2 > self.lease_s:
            raise PydanticCustomError(
                "delivery_timeout", "delivery.timeout ({timeout} s) must be at most half of "
                "delivery.lease ({lease} s)", {"timeout": self.timeout_s, "lease": self.lease_s})
        return self


class RetentionSettings(_Settings):
    """How long rows are kept: ``{articles: 90d, matches: 365d, alerts: 30d}``; a kind
    left out is kept for ever (see monitor.store.retention for what each keeps)."""

    articles_s: Duration | None = Field(None, alias="articles")
    matches_s: Duration | None = Field(None, alias="matches")
    alerts_s: Duration | None = Field(None, alias="alerts")
    #: How often the daemon prunes.
    every_s: Duration = Field(3600, alias="every")
    #: Rows deleted per transaction (short transactions: polls and sends wait little).
    batch: int = Field(500, ge=1, le=10_000)

    @field_validator("articles_s", "matches_s", "alerts_s")
    @classmethod
    def _at_least_a_day(cls, value: int | None) -> int | None:
        # "90" is 90 seconds: almost certainly meant as days, and it would delete everything.
        if value is not None and value < 86400:
            raise PydanticCustomError(
                "retention", "keep rows at least 1d (got {s} s; write e.g. 90d)", {"s": value})
        return value


class StorageSettings(_Settings):
    """How the daemon waits for its database: ``{busy_timeout: 30s, retry_base: 1s,
    retry_cap: 1m}`` (see docs/operations.md)."""

    #: SQLite: how long a write waits for another process's write lock before the
    #: attempt fails (and is retried with back-off).
    busy_timeout_s: Duration = Field(30, alias="busy_timeout")
    #: While the database is unavailable, the loops retry after ``retry_base``,
    #: doubling up to ``retry_cap``, each pause with random jitter.
    retry_base_s: Duration = Field(1, alias="retry_base")
    retry_cap_s: Duration = Field(60, alias="retry_cap")


class SpikeRuleSettings(_Settings):
    """``spike: {query: '@TikTok', window: 1h, baseline: 7d, factor: 3, min_stories: 5}``:
    alert when the stories matching ``query`` first seen in the last ``window`` reach
    ``min_stories`` and ``factor`` times what the ``baseline`` before it leads to expect."""

    query: Name
    window_s: Duration = Field(3600, alias="window")
    baseline_s: Duration = Field(7 * 86400, alias="baseline")
    factor: float = Field(3.0, gt=0)
    min_stories: int = Field(5, ge=1)

    @model_validator(mode="after")
    def _baseline_longer_than_window(self) -> SpikeRuleSettings:
        if self.baseline_s < self.window_s:
            raise ValueError("spike baseline must be at least as long as its window")
        return self


def _spike_query(value: Any) -> Any:
    """A spike rule matches with its ``spike.query`` (it has no top-level query)."""
    if isinstance(value, dict) and isinstance(value.get("spike"), dict) and "query" not in value:
        query = value["spike"].get("query")
        if isinstance(query, str):
            return {**value, "query": query}
    return value


class RuleSettings(_Settings):
    """One rule: ``{name, query, notify: [recipient...], feeds: [...], tags: [...]}``."""

    name: Name
    query: Name
    #: Recipients; empty: the top-level ``default_notify``.
    notify: Names = Field(default_factory=list)
    #: Only articles from these feeds (names or URLs); empty: all feeds.
    feeds: Names = Field(default_factory=list)
    #: Only articles from feeds carrying one of these tags; empty: all feeds.
    tags: Names = Field(default_factory=list)
    #: ``immediate``: one message per match; ``digest``: one message per ``digest`` window.
    mode: Literal["immediate", "digest"] = "immediate"
    #: The digest schedule (also where max_per_hour/quiet_hours roll-overs go); default 1h.
    digest: DigestSettings | None = None
    #: Immediate messages per hour and target; the rest roll into the next digest.
    max_per_hour: int | None = Field(None, ge=1)
    quiet_hours: QuietHours | None = None
    template: Annotated[TemplateSettings | None, BeforeValidator(_template_shorthand)] = None
    # -- stories (issue 9): see docs/stories.md --
    #: ``story``: the first matching article of a story alerts, later ones are stored
    #: as matches only; ``article``: every matching article alerts.
    alert_per: Literal["story", "article"] = "story"
    #: What later matching articles of an alerted story send: nothing, or a digest entry.
    story_updates: Literal["none", "digest"] = "none"
    #: Only articles in these languages (ISO 639-1 codes); empty: any language.
    languages: Names = Field(default_factory=list)
    #: A spike rule: its matches are recorded without alerts; one alert per episode
    #: of stories matching ``spike.query`` (needs ``stories: {enabled: true}``).
    spike: SpikeRuleSettings | None = None

    @field_validator("languages")
    @classmethod
    def _language_codes(cls, value: list[str]) -> list[str]:
        from monitor.rules.query import language_code_problem

        problems = [p for p in map(language_code_problem, value) if p]
        if problems:  # a code no article carries would make the rule match nothing
            raise ValueError("; ".join(problems))
        return value

    @model_validator(mode="before")
    @classmethod
    def _query_of_spike(cls, value: Any) -> Any:
        if (isinstance(value, dict) and isinstance(value.get("spike"), dict)
                and "query" in value and value["query"] != value["spike"].get("query")):
            raise ValueError("a spike rule takes its query inside spike: (spike.query), "
                             "not beside it")
        return _spike_query(value)

    def spec(self) -> RuleSpec:
        """The rule as the compiler takes it."""
        return RuleSpec(name=self.name, query=self.query, feeds=tuple(self.feeds),
                        tags=tuple(self.tags), languages=tuple(x.lower() for x in self.languages))


class StoriesSettings(_Settings):
    """``stories: {window: 48h}``: how articles are grouped into stories."""

    #: Off: no story grouping nor language detection (every rule alerts per article).
    enabled: bool = False
    #: A story accepts articles this long after its first one; later coverage starts a
    #: new story (and so a new alert).
    window_s: Duration = Field(48 * 3600, alias="window")


class EntitySettings(_Settings):
    """An entity referenced as ``@Name`` in queries: ``{aliases: [...]}``."""

    aliases: Annotated[list[Name], BeforeValidator(_one_or_many), Field(min_length=1)]


AppriseUrls = Annotated[list[Name], BeforeValidator(_one_or_many), Field(min_length=1)]


# -- web (issue 11): see the README's "Web UI, API, metrics and probes" --

#: A token shorter than this is refused: it could be guessed.
MIN_TOKEN_CHARS = 16


class TokenSettings(_Settings):
    """One access token: ``{token: "${MONITOR_ADMIN_TOKEN}", role: admin}``."""

    token: str = Field(min_length=MIN_TOKEN_CHARS, repr=False)
    #: ``read`` sees everything and changes nothing; ``admin`` may also act.
    role: Literal["admin", "read"] = "read"


def is_loopback(host: str) -> bool:
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class HttpSettings(_Settings):
    """The daemon's HTTP listener: ``{listen: 127.0.0.1:8080, tokens: {...}}``."""

    listen: Name = "127.0.0.1:8080"
    #: Token name -> token and role (names show in logs; the tokens never do).
    tokens: dict[Name, TokenSettings] = Field(default_factory=dict)
    #: Serve ``/metrics`` without a token (for a scraper on a private network).
    public_metrics: bool = False
    #: While a poll pass runs (some process holds a feed lease), a web process spends
    #: at most this many cores, its requests taking turns, so that dashboard load does
    #: not slow the poll cycle (monitor.web.pace); null: no limit. 0.25 measured: the
    #: ingest beside 20 clients 6% slower on SQLite and 0% on PostgreSQL, against 13% /
    #: 8% without it (bench/web.py, bench/RESULTS.md).
    cpu_while_polling: float | None = Field(0.25, gt=0)

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise PydanticCustomError(
                "listen", "expected HOST:PORT such as 127.0.0.1:8080, got '{v}'", {"v": value})
        return value

    @model_validator(mode="after")
    def _tokens_off_loopback(self) -> HttpSettings:
        if not self.tokens and not is_loopback(self.host):
            raise PydanticCustomError(
                "http_open", "refusing to listen on {h} without any token: add http.tokens "
                "or listen on 127.0.0.1", {"h": self.listen})
        return self

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])


_LISTEN = re.compile(r"(\[[0-9a-fA-F:.]+\]|[\w.-]*):(\d{1,5})\Z")


class WebSubSettings(_Settings):
    """WebSub push (issue 10): ``{callback_base: https://monitor.example.org,
    listen: 127.0.0.1:8090, lease: 1d}``; see docs/polling.md."""

    #: The public URL at which hubs reach the ``listen`` address (a proxy may sit between).
    callback_base: str
    #: Where the daemon's callback listener binds: host:port.
    listen: str = "127.0.0.1:8090"
    #: The lease asked of hubs (they may grant another); renewed before it ends.
    lease_s: Duration = Field(86400, alias="lease")

    @field_validator("callback_base")
    @classmethod
    def _http_base(cls, url: str) -> str:
        parts = urlsplit(url.strip())
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            raise PydanticCustomError(
                "callback_base", "must be an http:// or https:// URL, got '{url}'", {"url": url})
        return url.strip().rstrip("/")

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        m = _LISTEN.match(value.strip())
        if not m or not 0 < int(m.group(2)) < 65536:
            raise PydanticCustomError("listen", "expected host:port, got '{v}'", {"v": value})
        return value.strip()

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]") or "0.0.0.0", int(port)


class Settings(_Settings):
    """The whole configuration file, validated."""

    database: Name = DEFAULT_DATABASE
    poll: PollSettings = Field(default_factory=PollSettings)
    feeds: list[FeedSettings] = Field(default_factory=list)
    #: Recipient name -> apprise URLs (validated by the alerts module, not here).
    recipients: dict[Name, AppriseUrls] = Field(default_factory=dict)
    rules: list[RuleSettings] = Field(default_factory=list)
    entities: dict[Name, EntitySettings] = Field(default_factory=dict)
    #: Recipients of the rules that name none.
    default_notify: Names = Field(default_factory=list)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    #: WebSub push; None: feeds are only polled.
    websub: WebSubSettings | None = None
    stories: StoriesSettings = Field(default_factory=StoriesSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    #: The dashboard, API, metrics and probes; None: the daemon serves no HTTP.
    http: HttpSettings | None = None
    # Private: never in model_dump() or repr().
    _secrets: frozenset[str] = PrivateAttr(default=frozenset())
    _warnings: tuple[str, ...] = PrivateAttr(default=())

    @field_validator("poll", "feeds", "recipients", "rules", "entities", "delivery",
                     "stories", "retention", "http", "storage", mode="before")
    @classmethod
    def _empty_section(cls, value: Any, info: Any) -> Any:
        """``feeds:`` with nothing under it is an empty section, not an error."""
        if value is not None:
            return value
        sections = ("poll", "recipients", "entities", "delivery", "stories", "retention",
                    "http", "storage")
        return {} if info.field_name in sections else []

    @field_validator("database")
    @classmethod
    def _database_url(cls, url: str) -> str:
        # The shape SQLAlchemy's make_url accepts, checked without importing SQLAlchemy
        # (0.2-0.3 s): `check` and `--help` never need it.
        try:
            urlsplit(url).port  # raises ValueError for a port that is not a number
            valid = _DB_URL_RE.match(url) is not None
        except ValueError:
            valid = False
        if not valid:
            raise PydanticCustomError(
                "database_url", "not a database URL: use sqlite:///path/to/file.db or "
                "postgresql+psycopg://user@host/dbname") from None
        return url

    @property
    def secrets(self) -> frozenset[str]:
        """Every value an ``${VAR}`` took from the environment, and the passwords and
        tokens of the database and recipient URLs (for log redaction)."""
        return self._secrets

    @property
    def warnings(self) -> tuple[str, ...]:
        """What the loader found valid but probably not meant (``interval: 15``)."""
        return self._warnings

    def feed_specs(self) -> list[FeedSpec]:
        """The feeds as FeedSpecs; a feed without a name is named by its URL."""
        return [FeedSpec(url=f.url, name=f.name or f.url, tags=tuple(f.tags),
                         interval_s=f.interval_s, shown_url=f.shown_url) for f in self.feeds]

    def rule_notify(self, rule: RuleSettings) -> list[str]:
        """The recipients of one rule: its own ``notify``, else ``default_notify``."""
        return list(rule.notify or self.default_notify)

    def rule_specs(self) -> list[RuleSpec]:
        """The rules as RuleSpecs (not yet compiled)."""
        return [r.spec() for r in self.rules]

    def entity_aliases(self) -> dict[str, list[str]]:
        """Entity name -> aliases, for the rule compiler."""
        return {name: list(e.aliases) for name, e in self.entities.items()}
