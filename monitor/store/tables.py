"""SQLModel tables: the database schema of news-monitor.

These classes never leave ``monitor.store``; ``repo.Store`` turns rows into the
plain dataclasses of ``monitor.article``. Every constraint and index carries an
explicit name so Alembic migrations can address it on both SQLite and PostgreSQL.

    feed ──< article_source >── article ──< match ──< alert
                       story ──< article

* ``feed``: one row per configured URL, with its fetch state and a poll lease.
* ``article``: one row per distinct article (``canonical_url`` dedupes across feeds).
* ``article_source``: which feed saw which article under which per-feed key.
* ``match``: a rule that matched an article, with its evidence (unique per rule+article).
* ``alert``: the outbox, one row per match and notification target, with a send lease.
* ``story``: coverage of one event across outlets; each article joins one when stored.
* ``digest``: a claimed digest window (rule, target, window end); its message is an alert row.
* ``websub_subscription``: a feed's WebSub hub subscription (secret, state, lease).
* ``article_page``: the article's web page, wanted or fetched for its full text (one per
  article, so two feeds carrying the same story never fetch its page twice).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    LargeBinary,
    DateTime,
    Dialect,
    ForeignKeyConstraint,
    Index,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    or_,
)
from sqlmodel import Field, SQLModel

from monitor.store import ALERT_KINDS, ALERT_STATUSES  # noqa: F401  (re-exported)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every backend.

    PostgreSQL keeps ``timestamptz``; SQLite has no time zones, so values are stored
    as naive UTC (fixed-width ISO text, which also sorts correctly) and made aware
    again on the way out. Naive input is refused: it would be silently misread.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime given to the store: {value!r}")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)  # type: ignore[no-any-return]
        return value.astimezone(timezone.utc)  # type: ignore[no-any-return]


class FeedRow(SQLModel, table=True):
    """A configured feed, its fetch state and its poll lease."""

    __tablename__ = "feed"
    __table_args__ = (
        UniqueConstraint("url", name="uq_feed_url"),
        # claim_due_feeds: active feeds ordered by due time
        Index("ix_feed_due", "active", "next_poll_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    #: The URL as configured: the feed's identity across config reloads.
    url: str = Field(sa_type=Text, nullable=False)
    #: Where to fetch now, when a permanent redirect moved the feed (else NULL).
    fetch_url: str | None = Field(default=None, sa_type=Text, nullable=True)
    name: str = Field(sa_type=Text, nullable=False)
    tags: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)
    interval_s: int = Field(nullable=False)
    #: False once the feed left the config: kept with its data, never polled.
    active: bool = Field(default=True, nullable=False)
    etag: str | None = Field(default=None, sa_type=Text, nullable=True)
    last_modified: str | None = Field(default=None, sa_type=Text, nullable=True)
    last_status: int | None = Field(default=None, nullable=True)
    last_error: str | None = Field(default=None, sa_type=Text, nullable=True)
    #: Consecutive failed polls (0 after a success).
    error_count: int = Field(default=0, nullable=False)
    last_polled_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    next_poll_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    lease_owner: str | None = Field(default=None, sa_type=Text, nullable=True)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    #: SHA-256 of the last body parsed: an identical body is not parsed again.
    body_hash: str | None = Field(default=None, sa_type=Text, nullable=True)
    #: Observed new items per day (a time-weighted average), for adaptive intervals.
    items_per_day: float | None = Field(default=None, nullable=True)
    #: Why the feed is no longer polled although configured (e.g. "HTTP 410 Gone").
    disabled_reason: str | None = Field(default=None, sa_type=Text, nullable=True)


class StoryRow(SQLModel, table=True):
    """A story: the articles that cover one event, grouped as they arrive."""

    __tablename__ = "story"
    __table_args__ = (Index("ix_story_first_seen", "first_seen"),)

    id: int | None = Field(default=None, primary_key=True)
    #: The title of its first article.
    title: str = Field(sa_type=Text, nullable=False)
    #: When its first article was stored: it accepts articles for ``stories.window``.
    first_seen: datetime = Field(sa_type=UTCDateTime, nullable=False)
    last_seen: datetime = Field(sa_type=UTCDateTime, nullable=False)
    articles: int = Field(default=0, nullable=False)
    #: The assignment's term centroid ({term: weight}): restores the open stories.
    centroid: dict[str, float] = Field(default_factory=dict, sa_type=JSON, nullable=False)
    #: {term: how many of its articles carry it}: its share of the document frequency
    #: the assignment's IDF counts over the open stories.
    terms: dict[str, int] = Field(default_factory=dict, sa_type=JSON, nullable=False)


class ArticleRow(SQLModel, table=True):
    """A distinct article, stored once however many feeds carry it."""

    __tablename__ = "article"
    __table_args__ = (
        # NULLs are distinct on both backends: articles without a URL never collide.
        UniqueConstraint("canonical_url", name="uq_article_canonical_url"),
        ForeignKeyConstraint(["first_feed_id"], ["feed.id"], name="fk_article_first_feed_id"),
        ForeignKeyConstraint(["story_id"], ["story.id"], name="fk_article_story_id"),
        Index("ix_article_fetched_at", "fetched_at"),
        Index("ix_article_story_id", "story_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    canonical_url: str | None = Field(default=None, sa_type=Text, nullable=True)
    #: The per-feed key under which ``first_feed_id`` saw it (rebuilds the Article).
    key: str = Field(sa_type=Text, nullable=False)
    guid: str | None = Field(default=None, sa_type=Text, nullable=True)
    link: str | None = Field(default=None, sa_type=Text, nullable=True)
    title: str = Field(sa_type=Text, nullable=False)
    summary: str = Field(default="", sa_type=Text, nullable=False)
    content: str = Field(default="", sa_type=Text, nullable=False)
    authors: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)
    categories: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)
    published: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    updated: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    first_feed_id: int = Field(nullable=False)
    fetched_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    #: The story it joined when stored (NULL: stored before stories existed).
    story_id: int | None = Field(default=None, nullable=True)
    #: MinHash signature of its title + lede (the near-duplicate signal).
    story_sig: bytes | None = Field(default=None, sa_type=LargeBinary, nullable=True)
    #: ISO 639-1 language code (None: unknown).
    language: str | None = Field(default=None, sa_type=Text, nullable=True)


class ArticleSourceRow(SQLModel, table=True):
    """A feed that carried an article, under its per-feed key (guid/link/hash)."""

    __tablename__ = "article_source"
    __table_args__ = (
        UniqueConstraint("feed_id", "key", name="uq_article_source_feed_key"),
        ForeignKeyConstraint(["feed_id"], ["feed.id"], name="fk_article_source_feed_id"),
        ForeignKeyConstraint(
            ["article_id"], ["article.id"], name="fk_article_source_article_id"
        ),
        Index("ix_article_source_article_id", "article_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    feed_id: int = Field(nullable=False)
    key: str = Field(sa_type=Text, nullable=False)
    article_id: int = Field(nullable=False)


class MatchRow(SQLModel, table=True):
    """A rule that matched an article, with its evidence."""

    __tablename__ = "match"
    __table_args__ = (
        UniqueConstraint("rule", "article_id", name="uq_match_rule_article_id"),
        ForeignKeyConstraint(["article_id"], ["article.id"], name="fk_match_article_id"),
        Index("ix_match_article_id", "article_id"),
        Index("ix_match_matched_at", "matched_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    rule: str = Field(sa_type=Text, nullable=False)
    article_id: int = Field(nullable=False)
    #: Distinct literals that fired, in order of first appearance.
    terms: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)
    #: ``Hit`` objects as dicts: term, field, start, end, text.
    hits: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON, nullable=False)
    snippet: str = Field(default="", sa_type=Text, nullable=False)
    matched_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    #: When alert rows were queued for it; NULL: never (a backlog item on a feed's first
    #: poll, or ``rules apply`` without ``--alert``), so ``rules apply --alert`` may.
    alerted_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


class DigestRow(SQLModel, table=True):
    """A claimed digest window of one rule and notification target.

    Inserting the row claims the window (unique key), so one replica builds the
    digest; its held alerts and its outbox row are written in the same transaction.
    """

    __tablename__ = "digest"
    __table_args__ = (
        UniqueConstraint(
            "rule", "recipient", "target_key", "window_end", name="uq_digest_window"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    rule: str = Field(sa_type=Text, nullable=False)
    recipient: str = Field(sa_type=Text, nullable=False)
    target_key: str = Field(sa_type=Text, nullable=False)
    #: The schedule boundary that closed the window.
    window_end: datetime = Field(sa_type=UTCDateTime, nullable=False)
    #: Matches the digest covers (it lists the newest, then "and N more").
    match_count: int = Field(default=0, nullable=False)
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class AlertRow(SQLModel, table=True):
    """The outbox: one message to deliver for a match (or a digest) to one target."""

    __tablename__ = "alert"
    __table_args__ = (
        UniqueConstraint(
            "match_id", "recipient", "target_key", name="uq_alert_match_recipient_target"
        ),
        ForeignKeyConstraint(["match_id"], ["match.id"], name="fk_alert_match_id"),
        ForeignKeyConstraint(["digest_id"], ["digest.id"], name="fk_alert_digest_id"),
        # claim_due_alerts: due rows by status and time
        Index("ix_alert_due", "status", "next_attempt_at"),
        Index("ix_alert_digest_id", "digest_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    #: The match (kind "match"); NULL for a digest message.
    match_id: int | None = Field(default=None, nullable=True)
    #: One of ALERT_KINDS.
    kind: str = Field(default="match", sa_type=Text, nullable=False)
    #: kind "digest": the digest it sends; kind "match": the digest that carried it.
    digest_id: int | None = Field(default=None, nullable=True)
    recipient: str = Field(sa_type=Text, nullable=False)
    #: A stable, secret-free key of the target URL.
    target_key: str = Field(sa_type=Text, nullable=False)
    #: One of ALERT_STATUSES.
    status: str = Field(default="pending", sa_type=Text, nullable=False)
    attempts: int = Field(default=0, nullable=False)
    last_error: str | None = Field(default=None, sa_type=Text, nullable=True)
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    lease_owner: str | None = Field(default=None, sa_type=Text, nullable=True)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


#: article_page statuses: waiting for a (next) fetch; text extracted; given up.
PAGE_STATUSES = ("wanted", "done", "failed")


class ArticlePageRow(SQLModel, table=True):
    """An article's page: the full text extracted from it, or why that failed."""

    __tablename__ = "article_page"
    __table_args__ = (
        ForeignKeyConstraint(["article_id"], ["article.id"], name="fk_article_page_article_id"),
        # claim_due_pages: wanted pages by due time
        Index("ix_article_page_due", "status", "due_at"),
    )

    article_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    #: The URL fetched (the article's link).
    url: str = Field(sa_type=Text, nullable=False)
    #: One of PAGE_STATUSES.
    status: str = Field(sa_type=Text, nullable=False)
    #: The extracted main text ("" until done).
    text: str = Field(default="", sa_type=Text, nullable=False)
    error: str | None = Field(default=None, sa_type=Text, nullable=True)
    attempts: int = Field(default=0, nullable=False)
    #: status "wanted": when the next attempt is due (and the lease of a running one).
    due_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    http_status: int | None = Field(default=None, nullable=True)
    #: Validators of the last response, for a conditional re-fetch.
    etag: str | None = Field(default=None, sa_type=Text, nullable=True)
    last_modified: str | None = Field(default=None, sa_type=Text, nullable=True)
    fetched_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class WebSubRow(SQLModel, table=True):
    """A feed's WebSub subscription: its hub, secret, state and lease."""

    __tablename__ = "websub_subscription"
    __table_args__ = (
        ForeignKeyConstraint(["feed_id"], ["feed.id"], name="fk_websub_subscription_feed_id"),
    )

    feed_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    hub: str = Field(sa_type=Text, nullable=False)
    topic: str = Field(sa_type=Text, nullable=False)
    #: HMAC secret of pushed content (X-Hub-Signature); never shown.
    secret: str = Field(sa_type=Text, nullable=False)
    #: Random path segment of the callback URL, so callbacks cannot be guessed.
    token: str = Field(sa_type=Text, nullable=False)
    #: new, subscribing, active, unsubscribing, unsubscribed, failed.
    state: str = Field(sa_type=Text, nullable=False)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    requested_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    last_push_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    last_error: str | None = Field(default=None, sa_type=Text, nullable=True)


class SpikeStateRow(SQLModel, table=True):
    """A spike rule's episode state: one alert per episode, whichever replica checks."""

    __tablename__ = "spike_state"

    rule: str = Field(sa_type=Text, primary_key=True)
    #: An episode is under way (fired; not yet back below the level that fired it).
    active: bool = Field(default=False, nullable=False)
    #: When the current (or last) episode fired.
    fired_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


def _table(model: type[SQLModel]) -> Table:
    return model.__table__  # type: ignore[attr-defined, no-any-return]


#: Core tables, used by the queries in ``repo`` (no ORM sessions needed there).
feed = _table(FeedRow)
article = _table(ArticleRow)
story = _table(StoryRow)
article_source = _table(ArticleSourceRow)
match = _table(MatchRow)
alert = _table(AlertRow)
digest = _table(DigestRow)
article_page = _table(ArticlePageRow)
websub_subscription = _table(WebSubRow)
spike_state = _table(SpikeStateRow)
#: The metadata Alembic compares the migrations against.
metadata = SQLModel.metadata


def lease_free(table: Table, now: datetime) -> ColumnElement[bool]:
    """Rows of a leased table (feed, alert) that nobody holds at ``now``."""
    return or_(table.c.lease_until.is_(None), table.c.lease_until <= now)
