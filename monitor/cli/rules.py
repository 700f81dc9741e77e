"""Tools for rule writers: `test-rule` (what would this query match, and why) and
`rules apply` (record matches of new rules against articles already stored)."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperCommand

from monitor.cli.app import (
    DEFAULT_CONFIG,
    ConfigOpt,
    app,
    err,
    fail,
    iso,
    load,
    open_database,
    out,
    plural,
    since_cutoff,
    write_rows,
)
from monitor.errors import ConfigError, MonitorError, QueryError
from monitor.redact import redact

if TYPE_CHECKING:  # monitor.article is imported where used: --help stays light
    from monitor.article import Article, Match

rules_app = typer.Typer(help="Apply rules to stored articles.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")


class TestFormat(str, Enum):
    table = "table"
    jsonl = "jsonl"


def pick_query(args: list[str], options: dict[str, bool]) -> list[str]:
    """Reorder test-rule's arguments so the query reaches Click after ``--``.

    Click reads every word that starts with ``-`` as an option, so the query
    ``'-opinion tiktok'`` failed with "No such option: -o". The query is the word
    after a ``--`` (anywhere), or a word that is not one of ``options`` (name ->
    takes a value): plain words, and ``-`` words with a space in them or that do
    not start with a known option. Unknown ``--long`` options are left to Click,
    which suggests the right spelling.
    """
    flags: list[str] = []
    query: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            query.extend(args[i + 1 : i + 2])
            i += 2
            continue
        name = arg.split("=", 1)[0]
        if name in options:
            takes = options[name] and "=" not in arg
            flags.extend(args[i : i + 2] if takes else [arg])
            i += 2 if takes else 1
            continue
        if _looks_like_option(arg, options):
            flags.append(arg)
        else:
            query.append(arg)
        i += 1
    return flags + ["--", *query] if query else flags


def _looks_like_option(arg: str, options: dict[str, bool]) -> bool:
    if not arg.startswith("-") or arg == "-" or any(c.isspace() for c in arg):
        return False
    return arg.startswith("--") or len(arg) == 2 or arg[:2] in options  # -x, -cFILE


class QueryCommand(TyperCommand):
    """A command whose QUERY argument may start with ``-`` and stand anywhere."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        options = {
            name: not (p.is_flag or p.count)
            for p in self.get_params(ctx) if p.param_type_name == "option"
            for name in (*p.opts, *p.secondary_opts)
        }
        return super().parse_args(ctx, pick_query(args, options))


@app.command("test-rule", cls=QueryCommand)
def test_rule(
    query: Annotated[str, typer.Argument(help="The query to try, e.g. 'ban* NEAR/5 @TikTok'.")],
    config: ConfigOpt = DEFAULT_CONFIG,
    file: Annotated[Path | None, typer.Option("--file", help="A feed file on disk.")] = None,
    url: Annotated[str | None, typer.Option("--url", help="A feed URL to fetch now.")] = None,
    stored: Annotated[
        bool, typer.Option("--stored", help="Back-test against the stored articles.")
    ] = False,
    since: Annotated[str, typer.Option(
        help="With --stored: articles fetched since (all: every one).")] = "30d",
    format: Annotated[TestFormat, typer.Option("--format", "-f")] = TestFormat.table,
    full_text: Annotated[bool, typer.Option(
        "--full-text", help="With --url/--file: fetch the article pages as the daemon would "
        "(the feed's full_text mode, else poll.full_text) and match their text too.")] = False,
) -> None:
    """Which articles QUERY would match, and why (entities come from the config).

    QUERY may start with a minus ('-opinion tiktok') and stand before or after the
    options; `--` before it also works, in any position.
    """
    if sum((file is not None, url is not None, stored)) != 1:
        raise fail("give exactly one of --file, --url or --stored")
    settings = load(config) if stored or config.exists() else None
    entities = settings.entity_aliases() if settings else {}
    ruleset = compile_one(query, entities)
    if file is not None:
        articles: Iterable[Article] = articles_from_file(file)
    elif url is not None:
        articles = articles_from_url(url, settings)
    else:
        articles = articles_from_store(settings.database, since_cutoff(since))
    pages: dict[str, str | None] = {}
    show_pages = full_text and not stored  # stored articles carry their full text already
    if show_pages:
        articles = add_full_texts(tuple(articles), settings, url, pages)
    rows = [hit_row(a, m) for a in articles for m in ruleset.match(a)]
    if show_pages:  # show what the page gave (and why not) beside each match
        by_url = {a.link: a for a in articles}
        for row in rows:
            page = by_url[row["url"]]
            row.update(full_text=page.full_text, full_text_error=pages.get(page.key))
    if format is TestFormat.jsonl:
        write_rows(rows, "jsonl", [])
        return
    write_rows(rows, "table", ["title", "feed", "published", "terms", "url"])
    err.print(f"{len(rows)} matching articles")


def compile_one(query: str, entities: dict[str, list[str]]) -> Any:
    """Compile QUERY alone, or print where it is wrong (with a caret) and exit 1."""
    from monitor.rules.compile import compile_query, compile_rules

    try:
        compile_query(query, entities)
    except QueryError as e:
        err.print(f"query column {e.column}: {e.reason}", markup=False)
        err.print(f"  {query}", markup=False)
        if e.column:
            err.print("  " + " " * (e.column - 1) + "^", markup=False)
        raise typer.Exit(1) from None
    from monitor.article import RuleSpec

    try:
        return compile_rules([RuleSpec(name="test-rule", query=query)], entities)
    except ConfigError as e:
        raise fail("; ".join(e.problems)) from None


def hit_row(article: Article, m: Match) -> dict[str, Any]:
    return {
        "rule": m.rule,
        "title": article.title,
        "url": article.link,
        "feed": article.feed_name,
        "published": iso(article.date),
        "terms": list(m.terms),
        "snippet": m.snippet,
    }


def articles_from_file(path: Path) -> tuple[Article, ...]:
    from monitor.article import FeedSpec
    from monitor.feeds.parse import parse_feed

    try:
        body = path.read_bytes()
    except OSError as e:
        raise fail(f"cannot read {path}: {e.strerror}") from None
    parsed = parse_feed(body, {}, FeedSpec(url=path.resolve().as_uri(), name=path.name))
    if parsed.error:
        raise fail(f"{path}: {parsed.error}")
    return parsed.articles


def articles_from_url(url: str, settings: Any) -> tuple[Article, ...]:
    import asyncio

    from monitor.article import FeedSpec
    from monitor.feeds.fetch import Fetcher
    from monitor.feeds.parse import parse_feed

    async def fetch() -> Any:
        timeout = settings.poll.timeout_s if settings else 20
        async with Fetcher(timeout_s=timeout) as fetcher:
            return await fetcher.fetch(url)

    result = asyncio.run(fetch())
    if result.error or result.body is None:
        raise fail(f"{url}: {result.error or 'empty response'}")
    parsed = parse_feed(result.body, result.headers, FeedSpec(url=url, name=url))
    if parsed.error:
        raise fail(f"{url}: {parsed.error}")
    return parsed.articles


def add_full_texts(articles: tuple[Article, ...], settings: Any, url: str | None,
                   errors: dict[str, str | None]) -> list[Article]:
    """The articles with their pages' text; each page's error into ``errors`` by key."""
    import asyncio

    from monitor.fulltext.pages import PageFetcher, with_full_texts

    poll = settings.poll if settings else None
    feed = next((f for f in settings.feeds if f.url == url), None) if settings else None
    mode = (feed.full_text if feed else None) or (poll.full_text if poll else "auto")

    async def run() -> list[tuple[Article, str | None]]:
        async with PageFetcher(timeout_s=poll.timeout_s if poll else 20,
                               max_bytes=poll.max_bytes if poll else 10_000_000,
                               concurrency=poll.full_text_concurrency if poll else 8,
                               per_host=poll.per_host if poll else 2) as pages:
            return await with_full_texts(articles, mode, pages)

    done = asyncio.run(run())
    errors.update((a.key, error) for a, error in done)
    return [a for a, _ in done]


def articles_from_store(database: str, since: datetime | None) -> Iterator[Article]:
    store = open_database(database)
    try:
        yield from store.stored_articles(since=since)
    finally:
        store.close()


@rules_app.command("apply")
def rules_apply(
    config: ConfigOpt = DEFAULT_CONFIG,
    rule: Annotated[list[str] | None, typer.Option("--rule", "-r", help="Only this rule.")] = None,
    since: Annotated[str, typer.Option(
        help="Articles fetched since (90s, 15m, 2h, 7d; all: every one).")] = "7d",
    alert: Annotated[
        bool, typer.Option("--alert", help="Queue alerts for these rules' matches that never "
                           "had one (new, backlog, or recorded without --alert), once.")
    ] = False,
) -> None:
    """Apply the config's rules to stored articles and record new matches (after adding a rule).

    Without --alert the matches are stored silently; with it, every match of the
    scanned articles that was never alerted (a new one, a feed's backlog beyond
    poll.backlog, or one recorded by an earlier apply) is queued for its rule's
    recipients, once, and sent by the next delivery pass or `once`.
    """
    from monitor.apply import apply_rules

    settings = load(config)
    cutoff = since_cutoff(since)
    store = open_database(settings.database)
    try:
        result = apply_rules(store, settings, since=cutoff, clock=lambda: datetime.now(UTC),
                             rules=rule or (), alert=alert)
    except ConfigError as e:
        raise fail(str(e)) from None
    except MonitorError as e:
        raise fail(redact(str(e))) from None
    finally:
        store.close()
    scanned, new_matches, new_alerts = result.scanned, result.new_matches, result.new_alerts
    out.print(f"{plural(scanned, 'article')} scanned, {plural(new_matches, 'new match')}, "
              f"{plural(new_alerts, 'alert')} queued")
    sys.stdout.flush()
