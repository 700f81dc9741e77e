"""Property test: the ASCII shortcuts of ``normalize`` equal the general code.

``fold`` (one byte table), ``case_key`` (capitalised aliases), ``word_index`` (NEAR
distances) and ``word_end`` (``ban*`` hits) take a cheaper path when the text is ASCII,
where no CJK character and no accent can occur; the character-by-character and
Unicode-pattern versions are the reference.
"""

from __future__ import annotations

import re
from bisect import bisect_right

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.rules import normalize

_ASCII = st.text(alphabet=st.characters(max_codepoint=127), max_size=30)


@settings(max_examples=2000, deadline=None)
@given(_ASCII)
def test_case_key_ascii_path(text: str) -> None:
    assert normalize.case_key(text) == normalize._case_key_chars(text)


@settings(max_examples=2000, deadline=None)
@given(_ASCII, st.integers(0, 31))
def test_word_positions_ascii_path(text: str, pos: int) -> None:
    starts = [m.start() for m in normalize.WORD_RE.finditer(text)]
    for at in range(len(text) + 1):
        assert normalize.word_index(normalize.word_positions(text), at) == bisect_right(
            starts, at) - 1
    pos = min(pos, len(text))
    m = normalize._WORD_TAIL_RE.match(text, pos)
    assert normalize.word_end(text, pos) == (m.end() if m else pos)


@settings(max_examples=2000, deadline=None)
@given(_ASCII)
def test_fold_ascii_path(text: str) -> None:
    """The byte-table fold of ASCII text equals folding character by character."""
    fast, slow = normalize.fold(text), normalize._fold_chars(text)
    assert fast.text == slow.text
    assert fast.original_length == slow.original_length
    assert [fast.span(i, i + 1) for i in range(len(fast.text))] == [
        slow.span(i, i + 1) for i in range(len(slow.text))]


@given(st.text(alphabet=" ab", max_size=30))
def test_space_runs_collapse_to_their_first_space(text: str) -> None:
    folded = normalize._collapse(text, None, len(text))
    kept = [i for i, c in enumerate(text) if c != " " or i == 0 or text[i - 1] != " "]
    assert folded.text == re.sub(" {2,}", " ", text)
    assert (folded.offsets if folded.offsets is not None else list(range(len(text)))) == kept


@settings(max_examples=3000, deadline=None)
@given(st.text(min_size=1, max_size=12), st.text(max_size=12),
       st.sampled_from(["alias", "upper", "key", "other"]))
def test_an_ascii_alias_form_is_its_own_case_key(alias: str, other: str, pick: str) -> None:
    """The scan accepts a capitalised-alias hit written exactly as one of its forms,
    when ASCII, without computing case_key: the same answer as case_key's."""
    from monitor.rules.compile import _alias_spec

    forms = _alias_spec(alias).forms
    if forms is None or not normalize.fold_term(alias):
        return
    for form in forms:
        if form.isascii():
            assert normalize.case_key(form) == form
    written = {"alias": alias, "upper": alias.upper(), "key": normalize.case_key(alias),
               "other": other}[pick]
    shortcut = (written in forms and written.isascii()) or normalize.case_key(written) in forms
    assert shortcut == (normalize.case_key(written) in forms)


@pytest.mark.parametrize(("text", "span", "expected"), [
    ("\xad", (0, 0), (1, 1)),        # a soft hyphen alone folds to nothing
    ("a\xad", (1, 1), (2, 2)),       # an empty range at the end of the folded text
    ("a\u0301b", (0, 1), (0, 2)),    # a dropped combining mark stays inside the hit
])
def test_span_maps_ranges_up_to_the_end_of_the_folded_text(
        text: str, span: tuple[int, int], expected: tuple[int, int]) -> None:
    """Found by hypothesis (below): span(0, 0) of a text folding to "" raised IndexError."""
    assert normalize.fold(text).span(*span) == expected


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_folded_is_filled_as_its_constructor_fills_it(text: str) -> None:
    import dataclasses

    got = normalize.fold(text)
    built = normalize.Folded(got.text, got.offsets, got.original_length)
    assert got == built and list(vars(got)) == list(vars(built))
    assert [f.name for f in dataclasses.fields(normalize.Folded)] == [
        "text", "offsets", "original_length"]
    assert got.span(0, len(got.text)) == built.span(0, len(built.text))
