"""Checks that span sections: names unique, references resolve, rule queries compile.

Pure: takes the validated parts and the Document (for positions), returns Problems.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from monitor.config.models import FeedSettings, RuleSettings
from monitor.config.source import Document, KeyPath, Problem
from monitor.errors import ConfigError, QueryError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Parts:
    """The sections to cross-check, each item with its index in the file."""

    feeds: list[tuple[int, FeedSettings]]
    rules: list[tuple[int, RuleSettings]]
    recipients: set[str]
    entities: dict[str, list[str]]
    #: Names and URLs of every feed, even one that failed validation (no cascades).
    feed_refs: set[str]
    #: Tags of every feed, likewise.
    tags: set[str]
    #: The top-level ``default_notify`` (recipients of rules that name none).
    default_notify: list[str] = field(default_factory=list)
    #: ``stories.enabled``: spike rules count stories, so they need it.
    stories_enabled: bool = True


def check_references(parts: Parts, doc: Document, *, queries: bool = True) -> list[Problem]:
    """Every cross-section problem, in file order within each kind (``queries=False``:
    but the rules' queries, which only a command that matches compiles)."""
    return [*_check_feeds(parts, doc), *_check_rules(parts, doc),
            *(_check_queries(parts, doc) if queries else ()), *_check_delivery(parts, doc)]


def _at(doc: Document, path: KeyPath, message: str, extra: str = "") -> Problem:
    if isinstance(path[-1], int) and path not in doc.values and path[:-1] in doc.values:
        path = path[:-1]  # written as a single string, normalised to a list of one
    return Problem(path, message, doc.position(path), extra)


def _did_you_mean(word: str, choices: set[str]) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _same_url_key(url: str) -> str:
    """Scheme and host are case-insensitive: HTTPS://BBC.co.uk/x is https://bbc.co.uk/x."""
    try:
        parts = urlsplit(url)
    except ValueError:  # "https://[::1/": not a URL (the feed's own check says so)
        return url
    return parts._replace(scheme=parts.scheme.lower(), netloc=parts.netloc.lower()).geturl()


def _duplicates(items: list[tuple[int, Any]], key: Callable[[Any], str | None],
                ) -> list[tuple[int, str, int]]:
    """(index, value, index of the first occurrence) for each repeated key."""
    first: dict[str, int] = {}
    out = []
    for i, item in items:
        value = key(item)
        if value is None:
            continue
        if value in first:
            out.append((i, value, first[value]))
        else:
            first[value] = i
    return out


def _check_feeds(parts: Parts, doc: Document) -> list[Problem]:
    problems = [
        _at(doc, ("feeds", i, "url"), f"duplicate feed URL (also feeds[{j}])")
        for i, _, j in _duplicates(parts.feeds, lambda f: _same_url_key(f.url))
    ]
    # Rules name feeds by name, so two feeds with one name would be ambiguous.
    problems += [
        _at(doc, ("feeds", i, "name"), f"duplicate feed name '{name}' (also feeds[{j}])")
        for i, name, j in _duplicates(parts.feeds, lambda f: f.name)
    ]
    return problems


def _check_rules(parts: Parts, doc: Document) -> list[Problem]:
    problems = [
        _at(doc, ("rules", i, "name"), f"duplicate rule name '{name}' (also rules[{j}])")
        for i, name, j in _duplicates(parts.rules, lambda r: r.name)
    ]
    # Spelled as written or with scheme and host in any case (only rules scoped to feeds
    # need it: parsing every URL costs a 500-feed config ~8 ms).
    feed_ids = (parts.feed_refs | {_same_url_key(ref) for ref in parts.feed_refs}
                if any(rule.feeds for _, rule in parts.rules) else parts.feed_refs)
    tags = parts.tags
    for i, rule in parts.rules:
        for k, name in enumerate(rule.notify):
            if name not in parts.recipients:
                problems.append(_at(doc, ("rules", i, "notify", k), f"unknown recipient '{name}'",
                                    _did_you_mean(name, parts.recipients)))
        for k, feed in enumerate(rule.feeds):
            if feed not in feed_ids and _same_url_key(feed) not in feed_ids:
                problems.append(_at(doc, ("rules", i, "feeds", k),
                                    f"unknown feed '{feed}' (no feed has this name or URL)",
                                    _did_you_mean(feed, feed_ids)))
        if rule.spike is not None and not parts.stories_enabled:
            problems.append(_at(doc, ("rules", i, "spike"), "a spike rule counts stories: "
                                "set stories: {enabled: true}"))
        for k, tag in enumerate(rule.tags):
            if tag not in tags:
                problems.append(_at(doc, ("rules", i, "tags", k), f"no feed has the tag '{tag}'",
                                    _did_you_mean(tag, tags)))
    return problems


def _check_queries(parts: Parts, doc: Document) -> list[Problem]:
    """Compile the rules as the run will (it reuses that RuleSet: rules are compiled once
    per start), unless the record says they compile (the run then compiles them on first
    use); when that fails, each query alone, so each bad one gets a caret."""
    from monitor.config import rulecheck

    specs = [rule.spec() for _, rule in parts.rules]
    texts = [*(t for s in specs for t in (s.name, s.query, *s.feeds, *s.tags, *s.languages)),
             *(t for name, aliases in parts.entities.items() for t in (name, *aliases))]
    digest = (None if rulecheck.holds_secret(texts, doc.secrets)
              else rulecheck.rules_digest(specs, parts.entities))
    if digest is not None and rulecheck.known_valid(digest):
        return []  # the compiler is not even imported
    try:
        from monitor.rules.compile import compile_query, compile_rules
    except ImportError as e:  # the rule compiler is optional for loading alone
        log.debug("config.queries_unchecked reason=%s", e)
        return []
    try:
        compile_rules(specs, parts.entities)
    except ConfigError:
        pass
    else:
        if digest is not None:
            rulecheck.remember_valid(digest)
        return []
    problems = []
    for i, rule in parts.rules:
        try:
            compile_query(rule.query, parts.entities)
        except QueryError as e:
            problems.append(_query_problem(i, rule, e.reason, e.column, doc))
        except ConfigError as e:
            problems.append(_query_problem(i, rule, str(e), None, doc))
    return problems


def _query_problem(i: int, rule: RuleSettings, reason: str, column: int | None,
                   doc: Document) -> Problem:
    where = f"query column {column}: " if column is not None else "query: "
    # Newlines become spaces so the caret lines up with the column.
    shown = rule.query.replace("\r", " ").replace("\n", " ")
    extra = f"\n    {shown}"
    if column is not None:
        extra += "\n    " + " " * (column - 1) + "^"
    at = ("rules", i, "spike", "query") if rule.spike is not None else ("rules", i, "query")
    label = f"rules[{i}] '{rule.name}'" + (" spike" if rule.spike is not None else "")
    return Problem(("rules", i), where + reason, doc.position(at), extra, label=label)


# -- delivery (issue 4) -------------------------------------------------------------------


def _check_delivery(parts: Parts, doc: Document) -> list[Problem]:
    """default_notify names known recipients; rule templates compile."""
    problems = [
        _at(doc, ("default_notify", k), f"unknown recipient '{name}'",
            _did_you_mean(name, parts.recipients))
        for k, name in enumerate(parts.default_notify) if name not in parts.recipients
    ]
    for i, rule in parts.rules:
        # A rule with no recipients at all only records its matches (as notify: [] did).
        if rule.template is not None:
            problems += _template_problems(i, rule, doc)
    return problems


def _template_problems(i: int, rule: RuleSettings, doc: Document) -> list[Problem]:
    from monitor.alerts.templates import template_error

    problems = []
    for part in ("title", "text", "markdown", "html"):
        source = getattr(rule.template, part)
        error = template_error(source) if source is not None else None
        if error is None:
            continue
        path: KeyPath = ("rules", i, "template", part)
        if path not in doc.values:  # written as one string for every format: report it once
            return [_at(doc, ("rules", i, "template"), f"template: {error}")]
        problems.append(_at(doc, path, f"template ({part}): {error}"))
    return problems
