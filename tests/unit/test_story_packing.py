"""``story.packed``: a story's centroid and term counts, binary, read back exactly."""

from __future__ import annotations

import json
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.store.stories import pack_story_state, unpack_story_state

WORDS = st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=12)


@given(st.dictionaries(WORDS, st.floats(allow_nan=False, allow_infinity=False)),
       st.dictionaries(st.one_of(st.just(""), WORDS), st.integers(0, 2**40)))
def test_packed_state_reads_back_the_same_floats_counts_and_order(
    centroid: dict[str, float], terms: dict[str, int],
) -> None:
    back_centroid, back_terms = unpack_story_state(pack_story_state(centroid, terms))
    # The same bits (a restart, another replica decide the same) in the same order (a
    # centroid's norm is summed in it): what the JSON columns kept too.
    assert [(t, struct.pack("<d", w)) for t, w in back_centroid.items()] == [
        (t, struct.pack("<d", w)) for t, w in centroid.items()]
    assert list(back_terms.items()) == list(terms.items())
    assert list(json.loads(json.dumps(centroid)).items()) == list(back_centroid.items())


@pytest.mark.parametrize(("centroid", "terms"), [
    ({}, {}),  # a story with no words
    ({"flood": 0.5}, {}),  # a word-list language: no counts
    ({}, {"": 3}),  # only the article count
    ({"valencia": 1e-310, "rain": 1.7976931348623157e308}, {"": 1, "valencia": 1}),
])
def test_packed_edge_cases(centroid: dict[str, float], terms: dict[str, int]) -> None:
    assert unpack_story_state(pack_story_state(centroid, terms)) == (centroid, terms)


def test_a_term_holding_nul_is_refused() -> None:
    with pytest.raises(ValueError, match="NUL"):
        pack_story_state({"a\0b": 1.0}, {})
