"""`news-monitor feeds import|export|enable`: OPML in and out, re-enable a gone feed.

`feeds import FILE` PRINTS the YAML `feeds:` entries for the OPML file (to paste
into the config, or redirect into a file); it never edits the config, whose
comments and layout are the user's. To follow an OPML file as it changes, put
`{opml: FILE}` in `feeds:` instead.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from monitor.cli.app import (
    DEFAULT_CONFIG,
    ConfigOpt,
    app,
    err,
    fail,
    load,
    load_for_database,
    open_database,
    out,
    plural,
)
from monitor.feeds.identify import FeedRef, ambiguity, choose_feed
from monitor.redact import mask_url, redact

feeds_app = typer.Typer(help="Import and export OPML; re-enable disabled feeds.",
                        no_args_is_help=True)
app.add_typer(feeds_app, name="feeds")


def import_entries(data: bytes, extra_tags: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """The config entries for an OPML document (one per distinct URL, names unique), and
    a line for each kind of outline left out or changed, so nothing goes silently."""
    from monitor.opml import feed_key, read_opml

    document = read_opml(data)
    entries: list[dict[str, Any]] = []
    urls: dict[str, str] = {}
    names: set[str] = set()
    duplicates: list[str] = []
    unnamed: list[str] = []
    for feed in document.feeds:
        key = feed_key(feed.url)
        if key in urls:
            duplicates.append(f"{feed.url} (as {urls[key]})")
            continue
        urls[key] = feed.url
        entry: dict[str, Any] = {"url": feed.url}
        if feed.title and feed.title not in names:
            names.add(feed.title)
            entry["name"] = feed.title
        elif feed.title:
            unnamed.append(f"{feed.url} ({feed.title!r})")
        tags = list(dict.fromkeys([*feed.tags, *extra_tags]))
        if tags:
            entry["tags"] = tags
        entries.append(entry)
    notes = []
    if document.skipped:
        notes.append(f"left out {plural(len(document.skipped), 'outline')} whose xmlUrl is "
                     "not an http(s) URL: " + ", ".join(repr(u) for u in document.skipped))
    if duplicates:
        notes.append(f"left out {plural(len(duplicates), 'duplicate')} of a feed listed "
                     "before: " + ", ".join(duplicates))
    if unnamed:
        notes.append(f"{plural(len(unnamed), 'feed')} named by URL (an earlier feed has "
                     "the same title): " + ", ".join(unnamed))
    return entries, notes


@feeds_app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="An OPML file.")],
    tag: Annotated[list[str], typer.Option("--tag", "-t", help="Add this tag to every feed.")]
    = [],  # noqa: B006 (typer reads the default, never mutates it)
) -> None:
    """Print the YAML `feeds:` entries for an OPML file (to paste into the config)."""
    import yaml

    try:
        data = file.read_bytes()
    except OSError as e:
        raise fail(f"{file}: cannot read: {e.strerror or e}") from None
    entries, notes = import_entries(data, tag)
    for note in notes:  # URLs as the file writes them, as the entries print them
        err.print(note, markup=False)
    if not entries:
        raise fail(f"{file}: no feeds (outlines with xmlUrl) found")
    sys.stdout.write(f"# {len(entries)} feeds from {file.name}; or keep the file and write\n"
                     f"#   feeds: [{{opml: {file}}}]\n")
    sys.stdout.write(yaml.safe_dump({"feeds": entries}, allow_unicode=True, sort_keys=False,
                                    width=1000, default_flow_style=None))
    err.print(f"{len(entries)} feeds", markup=False)


@feeds_app.command("export")
def export(
    config: ConfigOpt = DEFAULT_CONFIG,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here, "
                                                "not to stdout.")] = None,
) -> None:
    """Write the configured feeds (OPML entries expanded) as an OPML 2.0 document."""
    from monitor.opml import ExportFeed, write_opml

    settings = load(config)
    # A URL that holds a ${VAR} value (a private feed's token) is written masked: an
    # export is for sharing, and the secret belongs in the environment, not in a file.
    feeds = [ExportFeed(url=mask_url(f.shown_url), name=f.name and redact(f.name),
                        tags=tuple(f.tags)) for f in settings.feeds]
    document = write_opml(feeds)
    masked = sum(e.url != f.url for e, f in zip(feeds, settings.feeds))
    if masked:
        err.print(f"{plural(masked, 'feed URL')} with secrets from ${{VAR}} written masked "
                  "(***): fill them in where you import the file", markup=False)
    if output is None:
        sys.stdout.write(document)
    else:
        try:
            output.write_text(document, encoding="utf-8")
        except OSError as e:
            raise fail(f"{output}: cannot write: {e.strerror or e}") from None
        err.print(f"{plural(len(settings.feeds), 'feed')} written to {output}", markup=False)


@feeds_app.command("enable")
def enable(
    url: Annotated[str, typer.Argument(
        help="The feed: its URL as `status` shows it or as the config writes it "
             "(with its ${VAR}), or its name.")],
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Poll a feed again that was disabled (e.g. after HTTP 410 Gone); due at once.

    A URL shown with *** may fit two feeds (two tokens): then nothing is enabled, and
    the candidates are listed with how to name one."""
    settings, database = load_for_database(config)
    store = open_database(database)
    try:
        choice = choose_feed(url, _expanded(url), _feed_refs(settings, store.feed_statuses()))
        if choice.ambiguous:
            raise fail(ambiguity(url, choice.candidates))
        found = store.enable_feed(choice.url or url, datetime.now(UTC))
    finally:
        store.close()
    if not found:
        raise fail(f"no feed with URL {redact(url)} (see `news-monitor status`)")
    shown = choice.candidates[0].shown if choice.candidates else redact(url)
    out.print(f"enabled: {shown}", markup=False)


def _expanded(text: str) -> str:
    """``text`` with its ``${VAR}`` parts from the environment (as the config would)."""
    import os

    from monitor.config.source import interpolate

    return interpolate(text, os.environ)[0]


def _feed_refs(settings: Any, stored: list[Any]) -> list[FeedRef]:
    """The configured feeds (if there is a config) and the stored ones, as named."""
    refs = [FeedRef(f.url, f.name or mask_url(f.shown_url), mask_url(f.shown_url), True,
                    also=(f.shown_url,))
            for f in (settings.feeds if settings is not None else ())]
    refs += [FeedRef(s.url, s.name, s.display_url, s.active,
                     also=(s.shown_url,) if s.shown_url else ()) for s in stored]
    return refs
