"""Fuzz: JSON Feed documents built field by field with values of every JSON type (the
byte-level mutations in test_feeds_fuzz.py cover broken JSON). parse_feed returns
articles or an error, never raises, and what it returns can be stored."""

from __future__ import annotations

import json

import pytest
from fuzzkit import fuzz_settings, logged_errors
from hypothesis import given
from hypothesis import strategies as st
from test_feeds_fuzz import FEED, check_result

from monitor.feeds.parse import parse_feed

pytestmark = pytest.mark.fuzz

ODD = st.sampled_from(["", " ", "\x00", "\ud800", "<b>x</b>", "&#0;", "&#xD800;", "x" * 3000,
                       "2026-12-02T12:00:00Z", "9999-12-31T23:59:59-23:59", "0001-01-01T00:00",
                       "2026-13-45", "https://x.example/a", "/relative", "javascript:x",
                       "http://[::1/", "1e999"])
SCALARS = st.none() | st.booleans() | st.integers() | st.sampled_from([10**400, -0.0]) | \
    st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20) | ODD
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=8)
ITEM_KEYS = ["id", "url", "external_url", "title", "content_html", "content_text", "summary",
             "image", "date_published", "date_modified", "authors", "author", "tags",
             "language", "attachments"]
items = st.dictionaries(st.sampled_from(ITEM_KEYS), VALUES | ODD, max_size=8) | VALUES
documents = st.fixed_dictionaries(
    {"version": st.sampled_from(["https://jsonfeed.org/version/1", "https://jsonfeed.org/version/1.1",
                                 "https://jsonfeed.org/version/9", "", None, 1])},
    optional={"title": VALUES | ODD, "items": st.lists(items, max_size=6) | VALUES,
              "authors": VALUES, "author": VALUES, "home_page_url": ODD, "language": VALUES},
)


@fuzz_settings(scale=0.5)
@given(documents, st.booleans(), st.sampled_from(["application/feed+json", "application/json",
                                                  "text/plain; charset=utf-16", ""]))
def test_json_feed_of_any_shape_parses_or_fails_cleanly(doc: dict[str, object], ascii: bool,
                                                        content_type: str) -> None:
    text = json.dumps(doc, ensure_ascii=ascii)  # NaN and Infinity too, as Python writes them
    body = text.encode("utf-8", "surrogatepass")
    with logged_errors("monitor.feeds") as crashes:
        result = parse_feed(body, {"Content-Type": content_type} if content_type else {}, FEED)
    check_result(body, result, crashes)
