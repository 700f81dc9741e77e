"""``feeds: [{opml: file.opml}]``: replace each OPML entry by the feeds in its file.

Runs after the models validated. Each feed of the file becomes a FeedSettings with
the outline's title as name, its folders (plus the entry's own ``tags``) as tags
and the entry's ``interval``. A URL already configured explicitly, or earlier in
any OPML file, is skipped (the first one wins), and a title already used by an
earlier feed is dropped (the feed is then named by its URL), so a big real-world
export never trips the duplicate checks. Problems (missing file, no feeds) are
reported at the ``opml`` key, like every other config problem; outlines left out
because their ``xmlUrl`` is not an http(s) URL (a typo, a Liferea ``vfolder``) are
warnings there, so no feed of the file goes without a word.
"""

from __future__ import annotations

import logging
from pathlib import Path

from monitor.config.models import FeedSettings, Settings
from monitor.config.source import Document, Problem

log = logging.getLogger(__name__)


def expand_opml(
    settings: Settings, base: Path, doc: Document
) -> tuple[Settings, list[tuple[int, FeedSettings]], list[Problem], list[Problem]]:
    """Settings with OPML entries expanded, each feed with the index of the config
    entry it came from (for error positions), the problems and the warnings found."""
    if not any(f.opml for f in settings.feeds):
        return settings, list(enumerate(settings.feeds)), [], []
    # its HTML/XML parsers only for a config that has one
    from monitor.opml import feed_key, read_opml

    urls = {feed_key(f.url) for f in settings.feeds if f.url}
    names = {f.name for f in settings.feeds if f.name}
    expanded: list[tuple[int, FeedSettings]] = []
    problems: list[Problem] = []
    warnings: list[Problem] = []
    for i, entry in enumerate(settings.feeds):
        if entry.opml is None:
            expanded.append((i, entry))
            continue
        loc = ("feeds", i, "opml")
        path = (base / entry.opml).expanduser()
        try:
            document = read_opml(path.read_bytes())
        except OSError as e:
            problems.append(Problem(loc, f"cannot read {path}: {e.strerror or e}",
                                    doc.position(loc)))
            continue
        if not document.feeds:
            problems.append(Problem(loc, f"{path}: no feeds (outlines with xmlUrl) found",
                                    doc.position(loc)))
            continue
        if document.skipped:
            warnings.append(Problem(loc, f"{path}: left out {len(document.skipped)} "
                                    "outline(s) whose xmlUrl is not an http(s) URL: "
                                    + ", ".join(repr(u) for u in document.skipped),
                                    doc.position(loc)))
        for feed in document.feeds:
            if feed_key(feed.url) in urls:
                continue
            urls.add(feed_key(feed.url))
            name = feed.title if feed.title and feed.title not in names else None
            if name:
                names.add(name)
            tags = list(dict.fromkeys([*feed.tags, *entry.tags]))
            expanded.append((i, FeedSettings(url=feed.url, name=name, tags=tags,
                                             interval_s=entry.interval_s,
                                             full_text=entry.full_text)))
        log.info("config.opml_loaded path=%s feeds=%d skipped=%d", path,
                 len(document.feeds), len(document.skipped))
    return (settings.model_copy(update={"feeds": [f for _, f in expanded]}), expanded,
            problems, warnings)
