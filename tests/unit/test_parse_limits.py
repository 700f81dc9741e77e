"""parse_feed's bounded work on huge feeds (max_items) and RSS <ttl>."""

from __future__ import annotations

import pytest

from monitor.article import FeedSpec
from monitor.feeds.parse import _truncate_entries, parse_feed

FEED = FeedSpec(url="https://feed.test/", name="T")


def rss(n: int, head: str = "") -> bytes:
    items = "".join(f"<item><title>t{i}</title><guid>g{i}</guid></item>" for i in range(n))
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{head}'
            f"{items}</channel></rss>").encode()


def atom(n: int) -> bytes:
    entries = "".join(f"<entry><title>t{i}</title><id>g{i}</id></entry>" for i in range(n))
    return (f'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>T</title>'
            f"{entries}</feed>").encode()


def rdf(n: int) -> bytes:
    items = "".join(f'<item rdf:about="https://x.test/{i}"><title>t{i}</title>'
                    f"<link>https://x.test/{i}</link></item>" for i in range(n))
    return ('<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
            ' xmlns="http://purl.org/rss/1.0/"><channel rdf:about="x"><title>T</title><items>'
            '<rdf:Seq><rdf:li resource="a"/></rdf:Seq></items></channel>'
            f"{items}</rdf:RDF>").encode()


@pytest.mark.parametrize("make", [rss, atom, rdf])
def test_a_huge_feed_is_cut_to_max_items_and_still_parses_cleanly(make) -> None:  # type: ignore[no-untyped-def]
    result = parse_feed(make(5000), {}, FEED, max_items=25)
    assert len(result.articles) == 25
    assert result.articles[0].title == "t0" and result.articles[-1].title == "t24"
    assert result.warning == "feed has 5000 entries; only the first 25 were read"
    assert result.error is None


@pytest.mark.parametrize("make", [rss, atom, rdf])
def test_feeds_within_the_cap_are_untouched(make) -> None:  # type: ignore[no-untyped-def]
    body = make(25)
    assert _truncate_entries(body, 25) is None
    result = parse_feed(body, {}, FEED, max_items=25)
    assert len(result.articles) == 25 and result.warning is None


def test_truncation_closes_the_envelope() -> None:
    cut = _truncate_entries(rss(3), 2)
    assert cut is not None
    body, total = cut
    assert total == 3 and body.endswith(b"<guid>g1</guid></item></channel></rss>")


def test_entries_not_findable_as_bytes_fall_back_to_the_parsed_count() -> None:
    text = rss(30).decode().replace('version="1.0"?>', 'version="1.0" encoding="utf-16"?>')
    body = text.encode("utf-16")  # no ASCII "</item>" in the bytes
    result = parse_feed(body, {}, FEED, max_items=10)
    assert len(result.articles) == 10
    assert result.warning == "feed has 30 entries; only the first 10 were read"


@pytest.mark.parametrize(("ttl", "expected"), [("60", 3600), (" 5 ", 300), ("0", None),
                                               ("soon", None), ("", None)])
def test_rss_ttl(ttl: str, expected: int | None) -> None:
    assert parse_feed(rss(1, f"<ttl>{ttl}</ttl>"), {}, FEED).ttl_s == expected
