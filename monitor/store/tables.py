"""SQLAlchemy Core tables: the database schema of news-monitor.

These tables never leave ``monitor.store``; ``repo.Store`` turns rows into the
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

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ColumnElement,
    DateTime,
    Dialect,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    func,
    or_,
)

from monitor.store import ALERT_KINDS, ALERT_STATUSES  # noqa: F401  (re-exported)

#: The schema; Alembic compares the migrations against it. Plain SQLAlchemy Core: the
#: store never builds ORM objects, and SQLModel's classes cost ~0.2 s of start-up.
metadata = MetaData()


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
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: Dialect) -> Any:
        """On SQLite, the stored text in one step: what process_bind_param and SQLite's
        DATETIME processor give in two (a third of the datetime binding's CPU on a first
        ingest, where every article, match and alert row binds two to four)."""
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def process(value: datetime | None) -> str | None:
            if value is None:
                return None
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(f"naive datetime given to the store: {value!r}")
            # SQLAlchemy's SQLite format: "YYYY-MM-DD HH:MM:SS.ffffff", the year 4 digits.
            return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")

        return process

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


#: A configured feed, its fetch state and its poll lease.
feed = Table(
    "feed",
    metadata,
    Column("id", Integer, primary_key=True),
    # The URL as configured: the feed's identity across config reloads.
    Column("url", Text, nullable=False),
    # The URL as shown: as written, the parts from ${VAR} masked. Kept with the row, so a
    # feed whose token was replaced in the config never shows the old one. NULL: a row
    # stored before 0013 and not configured since (shown with every known secret masked).
    Column("shown_url", Text, nullable=True),
    # Where to fetch now, when a permanent redirect moved the feed (else NULL).
    Column("fetch_url", Text, nullable=True),
    Column("name", Text, nullable=False),
    Column("tags", JSON, nullable=False, default=list),
    Column("interval_s", Integer, nullable=False),
    # False once the feed left the config: kept with its data, never polled.
    Column("active", Boolean, nullable=False, default=True),
    Column("etag", Text, nullable=True),
    Column("last_modified", Text, nullable=True),
    Column("last_status", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    # Consecutive failed polls (0 after a success).
    Column("error_count", Integer, nullable=False, default=0),
    Column("last_polled_at", UTCDateTime, nullable=True),
    Column("next_poll_at", UTCDateTime, nullable=True),
    Column("lease_owner", Text, nullable=True),
    Column("lease_until", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    # SHA-256 of the last body parsed: an identical body is not parsed again.
    Column("body_hash", Text, nullable=True),
    # Observed new items per day (a time-weighted average), for adaptive intervals.
    Column("items_per_day", Float, nullable=True),
    # Why the feed is no longer polled although configured (e.g. "HTTP 410 Gone").
    Column("disabled_reason", Text, nullable=True),
    UniqueConstraint("url", name="uq_feed_url"),
    # claim_due_feeds: active feeds ordered by due time
    Index("ix_feed_due", "active", "next_poll_at"),
)


#: A story: the articles that cover one event, grouped as they arrive.
story = Table(
    "story",
    metadata,
    Column("id", Integer, primary_key=True),
    # The title of its first article.
    Column("title", Text, nullable=False),
    # When its first article was stored: it accepts articles for ``stories.window``.
    Column("first_seen", UTCDateTime, nullable=False),
    Column("last_seen", UTCDateTime, nullable=False),
    Column("articles", Integer, nullable=False, default=0),
    # The assignment's term centroid ({term: weight}): restores the open stories.
    Column("centroid", JSON, nullable=False, default=dict),
    # {term: how many of its articles carry it}: its share of the document frequency
    # the assignment's IDF counts over the open stories.
    Column("terms", JSON, nullable=False, default=dict),
    # ``centroid`` and ``terms`` packed (monitor.store.stories.pack_story_state): what
    # rows are written with since 0015, JSON being the largest cost of writing them.
    # NULL: a row written before, read from the two columns above ({} otherwise).
    Column("packed", LargeBinary, nullable=True),
    Index("ix_story_first_seen", "first_seen"),
)


#: A distinct article, stored once however many feeds carry it.
article = Table(
    "article",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("canonical_url", Text, nullable=True),
    # The per-feed key under which ``first_feed_id`` saw it (rebuilds the Article).
    Column("key", Text, nullable=False),
    Column("guid", Text, nullable=True),
    Column("link", Text, nullable=True),
    Column("title", Text, nullable=False),
    Column("summary", Text, nullable=False, default=""),
    Column("content", Text, nullable=False, default=""),
    Column("authors", JSON, nullable=False, default=list),
    Column("categories", JSON, nullable=False, default=list),
    Column("published", UTCDateTime, nullable=True),
    Column("updated", UTCDateTime, nullable=True),
    Column("first_feed_id", Integer, nullable=False),
    Column("fetched_at", UTCDateTime, nullable=False),
    # The story it joined when stored (NULL: stored before stories existed).
    Column("story_id", Integer, nullable=True),
    # MinHash signature of its title + lede (the near-duplicate signal).
    Column("story_sig", LargeBinary, nullable=True),
    # ISO 639-1 language code (None: unknown).
    Column("language", Text, nullable=True),
    # Stored from a feed's first-poll backlog (an old item, stored without alerts): not
    # news then, so spike rules do not count its story as arriving (any rule's match,
    # also one recorded later by ``rules apply``).
    Column("backlog", Boolean, nullable=False, default=False, server_default=false()),
    # NULLs are distinct on both backends: articles without a URL never collide.
    UniqueConstraint("canonical_url", name="uq_article_canonical_url"),
    ForeignKeyConstraint(["first_feed_id"], ["feed.id"], name="fk_article_first_feed_id"),
    ForeignKeyConstraint(["story_id"], ["story.id"], name="fk_article_story_id"),
    Index("ix_article_fetched_at", "fetched_at"),
    Index("ix_article_story_id", "story_id"),
)

#: An article's date as shown and sorted: published, else updated (``Article.date``);
#: NULL when undated, never the fetch time.
article_date = func.coalesce(article.c.published, article.c.updated)


#: A feed that carried an article, under its per-feed key (guid/link/hash).
article_source = Table(
    "article_source",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("feed_id", Integer, nullable=False),
    Column("key", Text, nullable=False),
    Column("article_id", Integer, nullable=False),
    UniqueConstraint("feed_id", "key", name="uq_article_source_feed_key"),
    ForeignKeyConstraint(["feed_id"], ["feed.id"], name="fk_article_source_feed_id"),
    ForeignKeyConstraint(["article_id"], ["article.id"], name="fk_article_source_article_id"),
    Index("ix_article_source_article_id", "article_id"),
)


#: A rule that matched an article, with its evidence.
match = Table(
    "match",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("rule", Text, nullable=False),
    Column("article_id", Integer, nullable=False),
    # Distinct literals that fired, in order of first appearance.
    Column("terms", JSON, nullable=False, default=list),
    # ``Hit`` objects as dicts: term, field, start, end, text.
    Column("hits", JSON, nullable=False, default=list),
    Column("snippet", Text, nullable=False, default=""),
    Column("matched_at", UTCDateTime, nullable=False),
    # When alert rows were queued for it; NULL: never (a backlog item on a feed's first
    # poll, or ``rules apply`` without ``--alert``), so ``rules apply --alert`` may.
    Column("alerted_at", UTCDateTime, nullable=True),
    UniqueConstraint("rule", "article_id", name="uq_match_rule_article_id"),
    ForeignKeyConstraint(["article_id"], ["article.id"], name="fk_match_article_id"),
    Index("ix_match_article_id", "article_id"),
    Index("ix_match_matched_at", "matched_at"),
)


#: A claimed digest window of one rule and notification target.
#:
#: Inserting the row claims the window (unique key), so one replica builds the
#: digest; its held alerts and its outbox row are written in the same transaction.
digest = Table(
    "digest",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("rule", Text, nullable=False),
    Column("recipient", Text, nullable=False),
    Column("target_key", Text, nullable=False),
    # The schedule boundary that closed the window.
    Column("window_end", UTCDateTime, nullable=False),
    # Matches the digest covers (it lists the newest, then "and N more").
    Column("match_count", Integer, nullable=False, default=0),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("rule", "recipient", "target_key", "window_end", name="uq_digest_window"),
)


#: The outbox: one message to deliver for a match (or a digest) to one target.
alert = Table(
    "alert",
    metadata,
    Column("id", Integer, primary_key=True),
    # The match (kind "match"); NULL for a digest message.
    Column("match_id", Integer, nullable=True),
    # One of ALERT_KINDS.
    Column("kind", Text, nullable=False, default="match"),
    # kind "digest": the digest it sends; kind "match": the digest that carried it.
    Column("digest_id", Integer, nullable=True),
    Column("recipient", Text, nullable=False),
    # A stable, secret-free key of the target URL.
    Column("target_key", Text, nullable=False),
    # One of ALERT_STATUSES.
    Column("status", Text, nullable=False, default="pending"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=True),
    Column("next_attempt_at", UTCDateTime, nullable=True),
    Column("lease_owner", Text, nullable=True),
    Column("lease_until", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime, nullable=True),
    UniqueConstraint("match_id", "recipient", "target_key", name="uq_alert_match_recipient_target"),
    ForeignKeyConstraint(["match_id"], ["match.id"], name="fk_alert_match_id"),
    ForeignKeyConstraint(["digest_id"], ["digest.id"], name="fk_alert_digest_id"),
    # claim_due_alerts: due rows by status and time
    Index("ix_alert_due", "status", "next_attempt_at"),
    Index("ix_alert_digest_id", "digest_id"),
)


#: article_page statuses: waiting for a (next) fetch; text extracted; given up.
PAGE_STATUSES = ("wanted", "done", "failed")


#: An article's page: the full text extracted from it, or why that failed.
article_page = Table(
    "article_page",
    metadata,
    Column("article_id", Integer, primary_key=True, autoincrement=False),
    # The URL fetched (the article's link).
    Column("url", Text, nullable=False),
    # One of PAGE_STATUSES.
    Column("status", Text, nullable=False),
    # The extracted main text ("" until done).
    Column("text", Text, nullable=False, default=""),
    Column("error", Text, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    # status "wanted": when the next attempt is due (and the lease of a running one).
    Column("due_at", UTCDateTime, nullable=True),
    Column("http_status", Integer, nullable=True),
    # Validators of the last response, for a conditional re-fetch.
    Column("etag", Text, nullable=True),
    Column("last_modified", Text, nullable=True),
    Column("fetched_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    ForeignKeyConstraint(["article_id"], ["article.id"], name="fk_article_page_article_id"),
    # claim_due_pages: wanted pages by due time
    Index("ix_article_page_due", "status", "due_at"),
)


#: A feed's WebSub subscription: its hub, secret, state and lease.
websub_subscription = Table(
    "websub_subscription",
    metadata,
    Column("feed_id", Integer, primary_key=True, autoincrement=False),
    Column("hub", Text, nullable=False),
    Column("topic", Text, nullable=False),
    # HMAC secret of pushed content (X-Hub-Signature); never shown.
    Column("secret", Text, nullable=False),
    # Random path segment of the callback URL, so callbacks cannot be guessed.
    Column("token", Text, nullable=False),
    # new, subscribing, active, unsubscribing, unsubscribed, failed.
    Column("state", Text, nullable=False),
    Column("lease_until", UTCDateTime, nullable=True),
    Column("requested_at", UTCDateTime, nullable=True),
    Column("last_push_at", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    ForeignKeyConstraint(["feed_id"], ["feed.id"], name="fk_websub_subscription_feed_id"),
)

#: A spike rule's episode state: one alert per episode, whichever replica checks.
spike_state = Table(
    "spike_state",
    metadata,
    Column("rule", Text, primary_key=True),
    # An episode is under way (fired; not yet back below the level that fired it).
    Column("active", Boolean, nullable=False, default=False),
    # When the current (or last) episode fired.
    Column("fired_at", UTCDateTime, nullable=True),
)


def lease_free(table: Table, now: datetime) -> ColumnElement[bool]:
    """Rows of a leased table (feed, alert) that nobody holds at ``now``."""
    return or_(table.c.lease_until.is_(None), table.c.lease_until <= now)
