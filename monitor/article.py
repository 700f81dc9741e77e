"""Plain data types that travel between the pipeline stages.

Every stage takes and returns these frozen dataclasses; ORM rows never leave
``monitor.store`` and aiohttp/apprise objects never leave their modules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

#: The text fields an article offers to the matcher (``title:`` ... ``tag:``).
FIELDS = (
    "title", "summary", "content", "fulltext", "author", "category", "url", "feed", "tag",
    "lang",
)
#: The fields searched when a query term names none.
DEFAULT_FIELDS = ("title", "summary", "content", "fulltext")
#: A field name in a query that searches several article fields: ``content:`` also
#: searches the text extracted from the article's page.
FIELD_GROUPS = {"content": ("content", "fulltext")}


@dataclass(frozen=True)
class FeedSpec:
    """A feed as the configuration declares it."""

    #: The URL the user configured (the feed's identity in the config).
    url: str
    #: Display name; defaults to the URL when the config gives none.
    name: str
    #: Free-form tags, used to scope rules (``tags:``) and searchable as ``tag:``.
    tags: tuple[str, ...] = ()
    #: Poll interval in seconds for this feed (None: the global interval).
    interval_s: int | None = None
    #: The URL as shown: as written in the config, ``${VAR}`` values masked (None: url,
    #: when built other than from the config).
    shown_url: str | None = None


@dataclass(frozen=True)
class FeedState:
    """A feed as the store knows it: identity plus fetch state."""

    id: int
    url: str
    name: str
    tags: tuple[str, ...]
    interval_s: int
    etag: str | None = None
    last_modified: str | None = None
    last_status: int | None = None
    last_error: str | None = None
    error_count: int = 0
    last_polled_at: datetime | None = None
    next_poll_at: datetime | None = None
    #: Where a permanent redirect (301/308) now points; fetch this when set.
    fetch_url: str | None = None
    #: SHA-256 (hex) of the last body parsed: an identical body is not parsed again.
    body_hash: str | None = None
    #: Observed new items per day (adaptive polling); None until known.
    items_per_day: float | None = None


@dataclass(frozen=True)
class FetchResult:
    """The outcome of one HTTP fetch of a feed. Errors are data, not exceptions."""

    #: The URL requested.
    url: str
    #: The URL after redirects (== url when there were none).
    final_url: str
    #: HTTP status, or None when no response arrived (DNS, refused, timeout).
    status: int | None
    #: The decompressed body, or None (304, error).
    body: bytes | None = None
    #: Response headers, lower-cased names.
    headers: Mapping[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    #: A human-readable error ("timeout after 20s", "HTTP 500", "body larger than 10 MB").
    error: str | None = None
    #: Set when a 301/308 pointed the feed at a new URL.
    permanent_redirect: str | None = None
    elapsed_ms: int = 0

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True)
class Article:
    """One feed entry, normalised. Text fields hold plain text (HTML stripped)."""

    #: The configured URL of the feed it came from.
    feed_url: str
    feed_name: str
    feed_tags: tuple[str, ...]
    #: Identity within the feed: guid, else link, else a hash of title+date.
    key: str
    guid: str | None
    link: str | None
    #: Identity across feeds: link without tracking parameters and fragment.
    canonical_url: str | None
    title: str
    summary: str = ""
    content: str = ""
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    #: Aware datetimes in UTC, or None when the feed gave none (never invented:
    #: an Atom entry with only ``<updated>`` has ``published`` None).
    published: datetime | None = None
    updated: datetime | None = None
    #: The main text of the article's page, extracted when the feed item was a
    #: teaser (see monitor.fulltext); "" until then, or when the page failed.
    full_text: str = ""
    #: ISO 639-1 code of the text's language (None: unknown); searchable as ``lang:``.
    language: str | None = None

    @property
    def date(self) -> datetime | None:
        """The entry's date as shown and sorted: published, else updated, else None.

        None means undated; the time it was fetched is never a publication date.
        """
        return self.published or self.updated

    def field_text(self, name: str) -> str:
        """The text of one searchable field (see FIELDS); lists joined by newlines."""
        # The default fields first: the matcher asks for them on every article.
        if name in ("title", "summary", "content"):
            return str(getattr(self, name))
        if name == "fulltext":
            return self.full_text
        if name == "author":
            return "\n".join(self.authors)
        if name == "category":
            return "\n".join(self.categories)
        if name == "url":
            return self.link or ""
        if name == "feed":
            return self.feed_name
        if name == "tag":
            return "\n".join(self.feed_tags)
        if name == "lang":
            return self.language or ""
        raise KeyError(name)


@dataclass(frozen=True)
class RuleSpec:
    """A rule as the configuration declares it (before compiling)."""

    name: str
    query: str
    #: Only articles from feeds with one of these names or URLs (empty: all feeds).
    feeds: tuple[str, ...] = ()
    #: Only articles from feeds carrying one of these tags (empty: all feeds).
    tags: tuple[str, ...] = ()
    #: Only articles in one of these languages, ISO 639-1 (empty: any language).
    languages: tuple[str, ...] = ()


@dataclass(frozen=True)
class Hit:
    """One piece of evidence: a query literal found in an article."""

    #: The literal as written in the query: 'ban*', '"partner-only"', '@China', '/re/'.
    term: str
    #: The article field it was found in (one of FIELDS).
    field: str
    #: Character offsets into ``article.field_text(field)``.
    start: int
    end: int
    #: The original text at [start:end].
    text: str


@dataclass(frozen=True)
class Match:
    """A rule that matched an article, with the evidence."""

    rule: str
    hits: tuple[Hit, ...]
    #: About 200 characters around the first hit, hits marked «like this».
    snippet: str

    @property
    def terms(self) -> tuple[str, ...]:
        """The distinct literals that fired, in order of first appearance."""
        return tuple(dict.fromkeys(h.term for h in self.hits))


@dataclass(frozen=True)
class Route:
    """Where a rule's alerts go: one notification target of one recipient."""

    recipient: str
    #: A stable, secret-free key of the target URL (see alerts.notifier.target_key).
    target_key: str


@dataclass(frozen=True)
class StoryRef:
    """The story an alerted article belongs to (template variable ``story``)."""

    id: int
    #: The title of the story's first article.
    title: str
    #: Articles in the story so far.
    articles: int
    #: Names of the feeds that carried it, first seen first.
    outlets: tuple[str, ...]
    #: The link of its first article (the one ``title`` is of), or None.
    link: str | None = None


@dataclass(frozen=True)
class SpikeRef:
    """What a spike alert reports: the stories that made the episode."""

    #: Stories with a match first seen in the window, and how many were expected.
    count: int
    expected: float
    window_s: int
    #: Those stories, newest first.
    stories: tuple[StoryRef, ...]


@dataclass(frozen=True)
class AlertToSend:
    """A claimed outbox row, with everything needed to render and send it."""

    id: int
    rule: str
    recipient: str
    target_key: str
    attempts: int
    article: Article
    hits: tuple[Hit, ...]
    snippet: str
    matched_at: datetime
    #: The article's story (None: stored before stories existed).
    story: StoryRef | None = None
    #: Set for a spike alert (the article is the one whose story crossed the level).
    spike: SpikeRef | None = None

    @property
    def terms(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(h.term for h in self.hits))


@dataclass(frozen=True)
class DigestItem:
    """One match listed in a digest."""

    rule: str
    title: str
    link: str | None
    feed: str
    #: The entry's dates as the feed gave them (None when it gave none).
    published: datetime | None
    #: When the match was recorded (shown only as "seen", never as a publication date).
    matched_at: datetime
    terms: tuple[str, ...]
    snippet: str
    summary: str = ""
    updated: datetime | None = None
    content: str = ""
    #: The evidence; offsets point into the text of its field (``title``, ``summary``,
    #: ``content``, ``fulltext``, ``author``, ...), as in an alert.
    hits: tuple[Hit, ...] = ()
    #: The other outlets of its story (its other matches in the digest are folded in).
    also_reported_by: tuple[str, ...] = ()
    #: How many other matches of its story this digest folds under it (not listed).
    folded: int = 0
    #: The text of its page (teaser items), and its authors and categories: the fields
    #: a hit may point into besides the three above.
    full_text: str = ""
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class DigestToSend:
    """A claimed digest outbox row: the newest matches of its window and the total."""

    id: int
    digest_id: int
    rule: str
    recipient: str
    target_key: str
    attempts: int
    created_at: datetime
    window_end: datetime
    #: Newest first, at most the configured number.
    items: tuple[DigestItem, ...]
    #: Matches in the window (items plus the ones only counted).
    total: int
    #: Matches listed under their story's item ("also reported by") instead of alone.
    folded: int = 0

    @property
    def more_count(self) -> int:
        return max(self.total - len(self.items) - self.folded, 0)


@dataclass(frozen=True)
class PageJob:
    """An article whose web page is to be fetched for its full text (claimed, leased)."""

    article_id: int
    #: The page to fetch (the article's link).
    url: str
    #: The article as stored, to match again once its full text is known.
    article: Article
    #: Attempts made so far (a retry after a timeout or a 5xx is attempt 2).
    attempts: int = 0
    #: Validators of the last response: a re-fetch is conditional.
    etag: str | None = None
    last_modified: str | None = None
