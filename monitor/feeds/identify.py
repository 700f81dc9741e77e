"""Which feed a person means by the URL or the name they typed (pure).

A feed URL is shown as written, the part that came from ``${VAR}`` masked:
``https://example.com/private/${FEED_TOKEN}/rss.xml`` shows as
``https://example.com/private/***/rss.xml``. Two feeds that differ only in that part
(two tokens) then look the same, and so do their names when they have none (an
unnamed feed is named by its URL as shown). Such a form picks nothing: the caller
lists the candidates and says how to name one (``choose_feed``, ``ambiguity``).

    the URL itself, or as the config writes it (${VAR} expanded)  -> that feed
    a name, or the URL as shown                                   -> the one feed it fits
    ... fitting two or more configured feeds                      -> none: ambiguous
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class FeedRef:
    """A feed as a command may name it."""

    #: The feed's URL: its identity (it may hold a secret: never shown).
    url: str
    #: Its name (an unnamed feed's is its URL as shown).
    name: str
    #: The URL as shown: what came from the environment and any credential masked.
    shown: str
    #: In the config (polled); False: a row kept after the feed left the config.
    active: bool
    #: Other texts that name it (the URL as shown with its credentials unmasked).
    also: tuple[str, ...] = ()


@dataclass(frozen=True)
class FeedChoice:
    """The feed a text names (``url``), or every feed it could mean."""

    #: The chosen feed's URL; None when the text names no feed or several.
    url: str | None
    #: The feeds the text fits (several: ambiguous, nothing chosen).
    candidates: tuple[FeedRef, ...] = ()

    @property
    def ambiguous(self) -> bool:
        return self.url is None and len(self.candidates) > 1


def choose_feed(given: str, expanded: str, refs: Iterable[FeedRef]) -> FeedChoice:
    """The feed ``given`` names among ``refs`` (configured and stored feeds; one URL
    may come twice). ``expanded`` is ``given`` with its ``${VAR}`` parts filled in.

    A URL (or its ``${VAR}`` form) is one feed by itself. A name or a shown URL may fit
    several: a configured feed is preferred to a row kept after its feed left the
    config (re-enabling that row polls nothing), and two or more left choose none.
    """
    feeds: dict[str, FeedRef] = {}
    for ref in refs:
        known = feeds.get(ref.url)
        feeds[ref.url] = ref if known is None or (ref.active and not known.active) else known
    for text in (given, expanded):
        if text in feeds:
            return FeedChoice(text, (feeds[text],))
    fits = [f for f in feeds.values() if given in (f.name, f.shown, *f.also)]
    if any(f.active for f in fits):
        fits = [f for f in fits if f.active]
    if len(fits) == 1:
        return FeedChoice(fits[0].url, (fits[0],))
    return FeedChoice(None, tuple(sorted(fits, key=lambda f: (f.name, f.shown))))


def ambiguity(given: str, candidates: Iterable[FeedRef]) -> str:
    """Why ``given`` picks no feed, the candidates, and how to name one of them."""
    feeds = list(candidates)
    names = [f.name for f in feeds]
    named = len(set(names)) == len(names) and all(f.name != f.shown for f in feeds)
    lines = [f"{given!r} could be any of {len(feeds)} feeds (they differ only in a part "
             "from the environment, shown as ***):"]
    lines += [f"  {f.name}" if f.name != f.shown else f"  {f.shown} (no name)" for f in feeds]
    how = "give the feed's name, or its URL" if named else "give its URL"
    lines.append(f"{how} as the config writes it, with its ${{VAR}} "
                 "(e.g. 'https://example.com/private/${FEED_TOKEN}/rss.xml')"
                 + ("" if named else "; or give each feed a `name:` in the config"))
    return "\n".join(lines)
