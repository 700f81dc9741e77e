"""``/regex/`` terms on RE2: what is accepted, what is refused (and where), evidence, presearch.

One commented row per case. Patterns run over the folded text (lower case, no
accents, dashes and hyphens as spaces), case-insensitively.
"""

from __future__ import annotations

from typing import Any

import pytest

from monitor.article import Article, RuleSpec
from monitor.errors import QueryError
from monitor.rules.compile import compile_query, compile_rules
from monitor.rules.evaluate import ScanContext
from monitor.rules.regex import required_literals


def article(title: str, summary: str = "") -> Article:
    return Article(feed_url="https://ex.com/feed", feed_name="Example", feed_tags=(), key="k",
                   guid=None, link="https://ex.com/a/1", canonical_url=None, title=title,
                   summary=summary)


def hit_texts(query: str, art: Article) -> list[tuple[str, int, int, str]] | None:
    """(field, start, end, text) of each hit, or None when the rule does not match."""
    found = compile_rules([RuleSpec("r", query)], {}).match(art)
    if not found:
        return None
    for h in found[0].hits:  # offsets point into the original text
        assert art.field_text(h.field)[h.start:h.end] == h.text
    return [(h.field, h.start, h.end, h.text) for h in found[0].hits]


ACCEPTED = [
    # (query, title, expected hit texts in the title; [] = no match)
    ("/ban(s|ned)?/", "Senate bans TikTok", ["bans"]),  # issue 8: refused by the old guard
    ("/ban(?:s|ned)?/", "BANNED in Texas", ["BANNED"]),  # issue 8: non-capturing group
    (r"/\bban(s|ned){0,1}\b/", "A ban. Bans, banned", ["ban", "Bans", "banned"]),  # issue 8
    (r"/\bban(s|ned){0,1}\b/", "urban sprawl", []),  # \b still keeps it whole-word
    ("/(x+x+)+y/", "x" * 3000, []),  # classic catastrophic pattern: linear on RE2
    (r"/\w+ing\b/", "Pricing policy", ["Pricing"]),  # unbounded repeats are fine now
    ("/colou?r/", "Colour TV", ["Colour"]),  # optional letter
    (r"/\d{3} million/", "a 500 million fine", ["500 million"]),  # digits and a space
    ("/covid-19/", "COVID–19 cases", ["COVID–19"]),  # a hyphen matches any folded dash
    ("/zurich/", "Zürich talks", ["Zürich"]),  # accents are folded out of the text
    (r"/\bstrasse\b/", "Große Straße", ["Straße"]),  # ß folds to ss; offsets map back
    ("/ca.e/", "Café crème", ["Café"]),  # . is one folded character
    ("/[[:digit:]]{4}/", "in 2024", ["2024"]),  # POSIX classes (RE2 syntax)
    (r"/\pL+стан/", "Казахстан и Узбекистан", ["Казахстан", "Узбекистан"]),  # Unicode class
    ("/(?i)BAN/", "ban", ["ban"]),  # (?i) is redundant: always case-insensitive
    ("/(?-i)ban/", "BAN", ["BAN"]),  # the text is lower case already, so (?-i) changes nothing
    (r"/\bмосква\b/", "в москва", []),  # RE2's \b is ASCII-only: no boundary before м
    ("/a{,3}b/", "a{,3}b", ["a{,3}b"]),  # RE2: {,n} is literal text (Python: a repeat)
    (r"/end\z/", "the end", ["end"]),  # \z: end of the field (Python writes \Z)
]


@pytest.mark.parametrize(("query", "title", "expected"), ACCEPTED)
def test_accepted_patterns(query: str, title: str, expected: list[str]) -> None:
    hits = hit_texts(query, article(title))
    assert [h[3] for h in hits or []] == expected


REFUSED = [
    # (query, column of the construct, start of the reason)
    (r"/(a)\1/", 5, r"regex: backreferences (\1)"),  # backreference
    ("/(?P<n>a)(?P=n)/", 10, "regex: backreferences"),  # named backreference
    ("x /(?=a)b/", 4, "regex: lookahead"),  # lookahead, regex not at column 1
    ("/a(?!b)/", 3, "regex: negative lookahead"),  # negative lookahead
    ("/(?<=a)b/", 2, "regex: lookbehind"),  # lookbehind
    ("/(?<!a)b/", 2, "regex: negative lookbehind"),  # negative lookbehind
    ("/(?>ab)c/", 2, "regex: atomic groups"),  # atomic group
    ("/a++/", 3, "regex: possessive repeats"),  # possessive repeat
    ("/a**/", 3, "invalid regex: bad repetition operator: **"),  # repeat of a repeat
    (r"/a\Z/", 3, r"invalid regex: \Z is not supported; write \z"),  # Python's \Z
    ("/a(/", 3, "invalid regex: missing )"),  # unclosed group: caret on the (
    ("/ab(c(d)/", 4, "invalid regex: missing )"),  # the ( that is never closed
    ("/a)/", 3, "invalid regex: ) without ("),  # stray )
    ("/[ab/", 2, "invalid regex: missing ]"),  # unclosed class
    ("/x{2,1}/", 3, "invalid regex: invalid repetition size"),  # min above max
    ("/x{1001}/", 3, "invalid regex: invalid repetition size"),  # RE2's limit is 1000
    ("/a?/", 1, "regex matches the empty string"),  # would match every article
    ("/zürich/", 3, "regex text is matched folded"),  # ü never occurs in folded text
    ("/stra\u00dfe/", 6, ("regex text is matched folded (no accents, dashes as spaces):"
                          " write 'ss' for 'ß'")),  # ß folds to ss
]


@pytest.mark.parametrize(("query", "column", "reason"), REFUSED)
def test_refused_patterns(query: str, column: int, reason: str) -> None:
    with pytest.raises(QueryError) as info:
        compile_query(query, {})
    assert (info.value.column, info.value.reason[: len(reason)]) == (column, reason)


def test_regex_hits_carry_field_and_original_offsets() -> None:
    art = article("Zürich: Bans and banned", "Café BANNED it")
    assert hit_texts("/ban(s|ned)?/", art) == [
        ("title", 8, 12, "Bans"), ("title", 17, 23, "banned"), ("summary", 5, 11, "BANNED")]
    assert hit_texts("/ca.e ban(s|ned)?/", art) == [("summary", 0, 11, "Café BANNED")]


LITERALS = [
    # (pattern, what every match must contain; None = no literal, runs on every article)
    ("ban(s|ned)?", ["ban"]),  # text before an optional group
    (r"\bban(s|ned){0,1}\b", ["ban"]),  # assertions do not hide it
    ("cov(id)?.?19", ["cov"]),  # the longest run of 3+ characters
    (r"\d{3} million", ["million"]),  # spaces at the edges trimmed
    ("colou?r", ["colo"]),  # an optional letter ends the run
    ("Ban+er", ["ban"]),  # case folded; a repeated letter ends the run
    ("foo|barbaz", ["foo", "barbaz"]),  # one per alternative
    (r"foo|\d+", None),  # an alternative without text: no index
    ("[0-9]{4}", None),  # only a class
    ("ab", None),  # shorter than 3 characters
    (r"u\.s\.a", ["u.s.a"]),  # escaped punctuation is text
    ("x(ban)", None),  # text inside groups is not used
    (r"\x{41}bcd", ["bcd"]),  # an escape ends a run
]


@pytest.mark.parametrize(("pattern", "expected"), LITERALS)
def test_required_literals(pattern: str, expected: list[str] | None) -> None:
    assert required_literals(pattern) == expected


class CountingPattern:
    """Wraps the compiled RE2 pattern of a rule to count how often it is run."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.runs = inner, 0

    def finditer(self, text: str) -> Any:
        self.runs += 1
        return self.inner.finditer(text)


def test_regex_with_a_literal_runs_only_when_the_automaton_finds_it() -> None:
    rules = compile_rules([RuleSpec("bans", "/ban(s|ned)?/")], {})
    assert rules.unindexed_rules == ()
    leaf = rules._rules[0].root
    counter = CountingPattern(leaf.pattern)  # type: ignore[attr-defined]
    object.__setattr__(leaf, "pattern", counter)
    assert rules.match(article("Weather: sunny", "No news today")) == []
    assert counter.runs == 0  # never evaluated: "ban" is not in the article
    assert rules.candidates(ScanContext(article("Weather"))) == []
    assert [m.rule for m in rules.match(article("Urban planning"))] == ["bans"]  # substring
    assert counter.runs > 0


def test_regex_literal_is_searched_in_the_regex_fields() -> None:
    rules = compile_rules([RuleSpec("t", "title:/ban(s|ned)?/"), RuleSpec("u", "url:/ex\\.com/")],
                          {})
    assert rules.unindexed_rules == ()
    assert [m.rule for m in rules.match(article("bans"))] == ["t", "u"]


def test_regex_without_literal_is_unindexed_and_evaluated() -> None:
    rules = compile_rules([RuleSpec("year", "/[0-9]{4}/"), RuleSpec("w", "ban")], {})
    assert rules.unindexed_rules == ("year",)
    assert "evaluated on every article" in (rules.unindexed_warning() or "")
    assert [m.rule for m in rules.match(article("in 2024"))] == ["year"]
    assert compile_rules([RuleSpec("w", "ban")], {}).unindexed_warning() is None
