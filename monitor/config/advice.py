"""Warnings: what is valid but probably not what the writer meant.

Pure, on the raw document (so they show beside any error): a query in YAML double
quotes (``query: "TikTok ban"`` is TikTok AND ban, not the phrase: YAML ate the
quotes) and a bare-number interval (``interval: 15`` is 15 seconds, not minutes).
Each warning says how to write what was meant, and how to silence it.
"""

from __future__ import annotations

import re
from typing import Any

from monitor.config.source import Document, KeyPath, Problem

#: A plain word of a query: no operator, field, entity, wildcard, regex or group.
_PLAIN_WORD = re.compile(r"[\w'’.\-]+\Z")
_OPERATORS = {"AND", "OR", "NOT"}
#: Poll keys whose value is a duration (a feed's ``interval`` too).
_INTERVAL_KEYS = ("interval", "min_interval", "max_interval")


def config_warnings(doc: Document) -> list[Problem]:
    """Every warning of the document, in no particular order."""
    return [*_query_warnings(doc), *_interval_warnings(doc)]


def _query_warnings(doc: Document) -> list[Problem]:
    out = []
    for i, rule in enumerate(_items(doc.data.get("rules"))):
        path: KeyPath = ("rules", i, "query")
        query = rule.get("query")
        if path not in doc.double_quoted or not isinstance(query, str):
            continue
        words = query.split()
        if len(words) < 2 or any(w in _OPERATORS or not _PLAIN_WORD.match(w) for w in words):
            continue
        phrase = '"' + " ".join(words) + '"'
        out.append(Problem(
            path, f"YAML removes these double quotes, so {phrase} means "
                  f"{' AND '.join(words)}, not the phrase", doc.position(path),
            f"; for the phrase write query: '{phrase}'"
            f" (for AND, write query: {' AND '.join(words)})"))
    return out


def _interval_warnings(doc: Document) -> list[Problem]:
    poll = doc.data.get("poll")
    places: list[tuple[KeyPath, Any]] = [
        (("poll", key), poll.get(key)) for key in _INTERVAL_KEYS if isinstance(poll, dict)]
    places += [(("feeds", i, "interval"), feed.get("interval"))
               for i, feed in enumerate(_items(doc.data.get("feeds")))]
    out = []
    for path, value in places:
        bare = isinstance(value, int) and not isinstance(value, bool)
        # (A number of 40 digits or more is an error of its own, reported elsewhere.)
        if isinstance(value, str) and value.strip().isdecimal() and len(value.strip()) < 40:
            bare, value = True, int(value)
        if bare and value > 0:
            out.append(Problem(
                path, f"{value} is {value} seconds (a bare number is seconds)",
                doc.position(path), f"; write {value}s to keep it, or {value}m for minutes"))
    return out


def _items(section: Any) -> list[dict[str, Any]]:
    """The mapping items of a list section (others are reported as errors elsewhere)."""
    if not isinstance(section, list):
        return []
    return [item if isinstance(item, dict) else {} for item in section]
