"""Property test: the fast snippet path for plainly spaced text equals the general one.

``mark_spans`` takes ``_mark_plain`` when the window holds no whitespace but single
spaces; ``_mark_general`` (whitespace collapsed piece by piece) is the reference.
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.rules import snippet

# Words, single spaces and the odd character that strip() would touch if misplaced.
_TEXT = st.lists(st.sampled_from(["ban", "a", "TikTok", "«x»", "…", " ", " ", "é", "-"]),
                 max_size=40).map("".join)


@st.composite
def cases(draw: st.DrawFn) -> tuple[str, list[tuple[int, int]], int, int]:
    text = draw(_TEXT)
    n = len(text)
    spans = draw(st.lists(st.tuples(st.integers(-2, n + 2), st.integers(-2, n + 2)),
                          max_size=6))
    start = draw(st.integers(0, n))
    end = draw(st.integers(start, n))
    return text, spans, start, end


@settings(max_examples=3000, deadline=None)
@given(cases())
def test_plain_path_equals_general_path(case: tuple[str, list[tuple[int, int]], int, int]
                                        ) -> None:
    text, spans, start, end = case
    ordered = snippet._ordered(text, spans)
    if snippet._PLAIN_SPACING.search(text, start, end) is None:
        assert snippet._mark_plain(text, ordered, start, end) == snippet._mark_general(
            text, ordered, start, end)


def test_plain_path_is_taken_for_single_spaces_only() -> None:
    assert snippet._PLAIN_SPACING.search("a ban here") is None
    for messy in ("a  ban", "a\nban", "a\tban", "a\u00a0ban", "a\u2003ban"):
        assert snippet._PLAIN_SPACING.search(messy) is not None, messy


@given(st.text(alphabet=" \t\nab\u00a0\u2028«", max_size=30))
def test_make_snippet_unchanged_on_any_spacing(text: str) -> None:
    spans = [(i, i + 2) for i in range(0, len(text), 5)]
    pieces = snippet.mark_spans(text, spans)
    assert pieces == snippet._mark_general(text, snippet._ordered(text, spans), 0, len(text))


# Every whitespace character Python knows, a few invisible non-spaces, and anything else.
_SPACES = [chr(i) for i in range(0x3001) if chr(i).isspace()] + ["\u200b", "\u00ad", "a"]


@given(st.text(alphabet=st.sampled_from(_SPACES) | st.characters(), max_size=30))
def test_plain_spacing_agrees_with_its_definition(text: str) -> None:
    expected = all(c == " " or not c.isspace() for c in text) and "  " not in text
    assert snippet.plain_spacing(text) == expected


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=30))
def test_plain_spacing_ascii_path_agrees_with_its_definition(text: str) -> None:
    expected = all(c == " " or not c.isspace() for c in text) and "  " not in text
    assert snippet.plain_spacing(text) == expected


@settings(max_examples=3000, deadline=None)
@given(cases())
def test_joined_plain_path_equals_marked_pieces(case: tuple[str, list[tuple[int, int]], int, int]
                                                ) -> None:
    """``make_snippet``'s direct string builder gives what joining the pieces gives."""
    text, spans, start, end = case
    ordered = snippet._ordered(text, spans)
    if snippet._PLAIN_SPACING.search(text, start, end) is None:
        assert snippet._joined_plain(text, ordered, start, end) == snippet.joined(
            snippet._mark_plain(text, ordered, start, end))


# Plain and messy spacing, edge spaces, and hits of any length at any place.
_ANY_SPACING = st.lists(st.sampled_from(["ban", "a", "TikTok", "é", "-", " ", " ", "  ", "\n",
                                         "\u00a0"]), max_size=30).map("".join)


@settings(max_examples=3000, deadline=None)
@given(_ANY_SPACING, st.integers(-2, 40), st.integers(-2, 40), st.integers(1, 30))
def test_one_hit_snippet_equals_make_snippet(text: str, s: int, e: int, width: int) -> None:
    """The one-hit builder gives ``make_snippet``'s snippet, plain hint or not."""
    expected = snippet.make_snippet(text, [(s, e)], width)
    assert snippet.snippet_one(text, s, e, width) == expected
    if snippet.plain_spacing(text):
        assert snippet.snippet_one(text, s, e, width, plain=True) == expected


@given(st.text(alphabet=st.sampled_from(_SPACES) | st.characters(), max_size=30))
def test_collapse_spaces_is_the_whitespace_regex(text: str) -> None:
    assert snippet.collapse_spaces(text) == re.sub(r"\s+", " ", text)
