"""Which feed a typed URL or name means; a masked URL that fits two feeds picks none."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from monitor.config import load_settings
from monitor.feeds.identify import FeedRef, ambiguity, choose_feed
from monitor.web.api import feed_url
from monitor.web.problems import ProblemError

SHOWN = "https://p.test/private/***/rss.xml"
A = FeedRef("https://p.test/private/tokenA1/rss.xml", "Alpha", SHOWN, True)
B = FeedRef("https://p.test/private/tokenB2/rss.xml", "Beta", SHOWN, True)
OLD = FeedRef("https://p.test/private/tokenOld/rss.xml", "Alpha", SHOWN, False)
PLAIN = FeedRef("https://plain.test/rss", "Plain", "https://plain.test/rss", True)
STORED_A = FeedRef(A.url, "Alpha", SHOWN, False)
STORED_B = FeedRef(B.url, "Beta", SHOWN, False)
UNNAMED_A = FeedRef(A.url, SHOWN, SHOWN, True)
UNNAMED_B = FeedRef(B.url, SHOWN, SHOWN, True)


@pytest.mark.parametrize(("given", "expanded", "refs", "chosen", "candidates"), [
    # the URL itself names one feed, whatever else looks like it
    (A.url, A.url, [A, B], A.url, [A]),
    # the ${VAR} form, expanded from the environment, names one feed
    ("https://p.test/private/${TOKEN_B}/rss.xml", B.url, [A, B], B.url, [B]),
    # a name names one feed
    ("Beta", "Beta", [A, B, PLAIN], B.url, [B]),
    # the shown form of one feed alone
    (SHOWN, SHOWN, [A, PLAIN], A.url, [A]),
    # the shown form fitting two configured feeds: none chosen, both listed
    (SHOWN, SHOWN, [A, B, PLAIN], None, [A, B]),
    # ... also when the two are stored only (no config at hand)
    (SHOWN, SHOWN, [STORED_A, STORED_B], None, [STORED_A, STORED_B]),
    # unnamed feeds are named by the shown URL: the name is as ambiguous
    (SHOWN, SHOWN, [UNNAMED_A, UNNAMED_B], None, [UNNAMED_A, UNNAMED_B]),
    # the row kept for an old token loses to the configured feed (it is not polled)
    (SHOWN, SHOWN, [A, OLD], A.url, [A]),
    # a feed both configured and stored counts once
    (SHOWN, SHOWN, [A, FeedRef(A.url, "Alpha", SHOWN, True)], A.url, [A]),
    # nothing fits
    ("https://nowhere.test/", "https://nowhere.test/", [A, B], None, []),
])
def test_choose_feed(given: str, expanded: str, refs: list[FeedRef], chosen: str | None,
                     candidates: list[FeedRef]) -> None:
    choice = choose_feed(given, expanded, refs)
    assert choice.url == chosen
    assert list(choice.candidates) == candidates
    assert choice.ambiguous is (len(candidates) > 1)


def test_the_refusal_names_the_candidates_and_how_to_pick_one() -> None:
    named = ambiguity(SHOWN, [A, B])
    assert "Alpha" in named and "Beta" in named
    assert "name" in named and "${" in named
    assert "tokenA1" not in named and "tokenB2" not in named
    unnamed = ambiguity(SHOWN, [UNNAMED_A, UNNAMED_B])
    assert "${" in unnamed and "`name:`" in unnamed


def test_the_api_refuses_a_shown_url_or_a_name_that_fits_two_feeds(tmp_path: Path) -> None:
    config = tmp_path / "monitor.yaml"
    config.write_text("feeds:\n"
                      "  - url: https://p.test/private/${TOKEN_A}/rss.xml\n"
                      "  - url: https://p.test/private/${TOKEN_B}/rss.xml\n"
                      "  - {url: 'https://p.test/private/${TOKEN_C}/x.xml', name: Gamma}\n",
                      encoding="utf-8")
    settings = load_settings(config, {"TOKEN_A": "tokenA1", "TOKEN_B": "tokenB2",
                                      "TOKEN_C": "tokenC3"}, queries=False)
    state = SimpleNamespace(settings=settings)
    for url, name in ((SHOWN, None), (None, SHOWN)):  # unnamed: named by the shown URL
        with pytest.raises(ProblemError) as refused:
            feed_url(state, url, name)  # type: ignore[arg-type]
        assert refused.value.status == 409
        assert "tokenA1" not in str(refused.value.detail)
    assert feed_url(state, A.url, None) == A.url  # type: ignore[arg-type]
    gamma = "https://p.test/private/tokenC3/x.xml"
    assert feed_url(state, None, "Gamma") == gamma  # type: ignore[arg-type]
    assert feed_url(state, "https://p.test/private/***/x.xml", None) == gamma  # type: ignore[arg-type]
